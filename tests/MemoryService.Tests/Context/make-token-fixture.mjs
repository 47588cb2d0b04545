// Writes token-fixture.json: every text of token-texts.json with its exact OpenAI cl100k_base count,
// the reference that ApproximateTokenCounter is tested and benchmarked against.
//
// Run it offline, outside the repo, so no node_modules land in the tree:
//   mkdir -p /tmp/tok && cd /tmp/tok && npm init -y && npm install gpt-tokenizer@4
//   NODE_PATH=/tmp/tok/node_modules node tests/MemoryService.Tests/Context/make-token-fixture.mjs
// (NODE_PATH is not read for ES module imports, so the script resolves the package from it itself.)
// Edit token-texts.json, never the counts in token-fixture.json.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = process.env.NODE_PATH ?? join(process.cwd(), "node_modules");
const require = createRequire(join(modules, "noop.js"));
const { encode } = await import(pathToFileURL(require.resolve("gpt-tokenizer/encoding/cl100k_base")));

const texts = JSON.parse(readFileSync(join(here, "token-texts.json"), "utf8"));
const fixture = texts.map(({ category, text }) => ({ category, tokens: encode(text).length, text }));
writeFileSync(join(here, "token-fixture.json"), JSON.stringify(fixture, null, 2) + "\n");

const total = fixture.reduce((sum, t) => sum + t.tokens, 0);
console.log(`wrote ${fixture.length} texts, ${total} tokens`);
