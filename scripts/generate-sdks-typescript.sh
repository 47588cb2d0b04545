#!/usr/bin/env bash
# Regenerates the TypeScript SDK's types (sdk/typescript/src/schema.ts) from the checked-in OpenAPI document
# (sdk/openapi.json) with the openapi-typescript pinned in sdk/typescript/package.json.
# --check: change nothing; exit 1 when regenerating would change the file (the SDK has drifted from the API).
set -euo pipefail
cd "$(dirname "$0")/../sdk/typescript"
log() { printf '[generate-sdks-typescript] %s\n' "$*" >&2; }
command -v npm >/dev/null 2>&1 || { log "ERROR: node and npm are required (scripts/prereqs.sh --tests installs them)"; exit 1; }

# Install the pinned toolchain from package-lock.json unless it is already there.
pinned=$(node -p 'require("./package.json").devDependencies["openapi-typescript"]')
if [ "$(node -p 'try { require("./node_modules/openapi-typescript/package.json").version } catch { "" }')" != "$pinned" ]; then
  log "installing the SDK's pinned toolchain (npm ci)"
  npm ci --prefer-offline --no-audit --no-fund --loglevel=error >&2
fi

if [ "${1:-}" = "--check" ]; then
  npm run --silent generate -- --check || { log "sdk/typescript/src/schema.ts is out of date with sdk/openapi.json: run scripts/generate-sdks-typescript.sh"; exit 1; }
  log "sdk/typescript/src/schema.ts matches sdk/openapi.json"
else
  npm run --silent generate
fi
