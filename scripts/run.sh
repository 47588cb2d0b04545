#!/usr/bin/env bash
# Runs MemoryService with its embedded default: a private PostgreSQL + pgvector it starts itself and
# the in-process embedding model (Embeddings:Provider=local, Arctic-xs: search by meaning, no embedding service;
# Embeddings__Provider=hashing for the fastest, word-based embedder). Installs prerequisites first (idempotent).
#   URLS (default http://127.0.0.1:8080), Storage__DataDirectory, ConnectionStrings__Memory, ... pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/MemoryService -c Release -nologo -v quiet -clp:ErrorsOnly
export Embeddings__Provider="${Embeddings__Provider:-local}"
# --contentRoot (absolute: a relative one resolves against the dll folder): started from the repo root, the content root would be the cwd and appsettings.json never loaded.
out="$PWD/src/MemoryService/bin/Release/net10.0"
exec dotnet "$out/MemoryService.dll" --contentRoot "$out" --urls "${URLS:-http://127.0.0.1:8080}" "$@"
