#!/usr/bin/env bash
# Regenerates the client SDKs from the checked-in OpenAPI document (sdk/openapi.json).
#   scripts/generate-sdks.sh            write into the source tree
#   scripts/generate-sdks.sh --out DIR  write the C# client into DIR/csharp instead (the drift test compares it with
#                                       the tree) and only check the TypeScript types against the tree
#   --only csharp|typescript            regenerate one SDK
# Offline: the generators come from the registries through the tool manifest (dotnet-tools.json) and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=""; only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "usage: $0 [--out DIR] [--only csharp|typescript]" >&2; exit 2 ;;
  esac
done
spec="$root/sdk/openapi.json"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# --- C# ---
# NSwag 14.8 (local dotnet tool) writes one client class, MemoryServiceClient, with its DTOs into
# src/MemoryService.Client/Generated/. The hand-written layer (auth, problem details) lives beside it.
if [ -z "$only" ] || [ "$only" = csharp ]; then
csharp_out="${out:+$out/csharp}"; csharp_out="${csharp_out:-$root/src/MemoryService.Client/Generated}"
mkdir -p "$csharp_out"
dotnet tool restore >/dev/null
dotnet nswag openapi2csclient \
  /input:"$spec" \
  /output:"$csharp_out/MemoryServiceClient.g.cs" \
  /namespace:MemoryService.Client \
  /className:MemoryServiceClient \
  /operationGenerationMode:SingleClientFromOperationId \
  /jsonLibrary:SystemTextJson \
  /generateClientInterfaces:true \
  /injectHttpClient:true \
  /disposeHttpClient:false \
  /useBaseUrl:false \
  /generateBaseUrlProperty:false \
  /exceptionClass:MemoryServiceApiException \
  /wrapResponses:true \
  "/wrapResponseMethods:MemoryServiceClient.GetMemory,MemoryServiceClient.UpdateMemory,MemoryServiceClient.GetKnowledge,MemoryServiceClient.UpdateKnowledge" \
  /responseClass:MemoryServiceResponse \
  /generatePrepareRequestAndProcessResponseAsAsyncMethods:true \
  /generateNullableReferenceTypes:true \
  /generateOptionalPropertiesAsNullable:true \
  /dateTimeType:System.DateTimeOffset \
  /arrayType:System.Collections.Generic.List \
  /arrayInstanceType:System.Collections.Generic.List \
  /dictionaryType:System.Collections.Generic.Dictionary \
  /dictionaryInstanceType:System.Collections.Generic.Dictionary \
  /excludedTypeNames:JsonNode,JsonNodeOptions \
  /additionalNamespaceUsages:System.Text.Json.Nodes \
  /generateUpdateJsonSerializerSettingsMethod:true \
  /generateOptionalParameters:true \
  /newLineBehavior:LF >/dev/null
# Fix-ups NSwag has no switch for, applied to its output only (and its banner's web address dropped):
# - snake_case JSON names become PascalCase properties (next_cursor -> NextCursor; the JSON name stays in
#   [JsonPropertyName]);
# - enums are written as the API's lower-case strings (System.Text.Json ignores [EnumMember]).
perl -pi -e '
  s/^(\s+public .+ )([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)( \{ get; set; \})/$1 . join("", map { ucfirst } split(m{_}, $2)) . $3/e;
  s/System\.Text\.Json\.Serialization\.JsonStringEnumConverter</MemoryService.Client.SnakeCaseEnumConverter</g;
  s/ \(http:\/\/NSwag\.org\)$//;
' "$csharp_out/MemoryServiceClient.g.cs"
fi

# --- TypeScript ---
# openapi-typescript (pinned in sdk/typescript/package.json) writes sdk/typescript/src/schema.ts; scripts/generate-sdks-typescript.sh
# has the details and a --check mode, which the TypeScript drift test uses. With --out, the tree is left as it is.
if [ -z "$only" ] || [ "$only" = typescript ]; then
  if [ -n "$out" ]; then
    bash "$root/scripts/generate-sdks-typescript.sh" --check
  else
    bash "$root/scripts/generate-sdks-typescript.sh"
  fi
fi
