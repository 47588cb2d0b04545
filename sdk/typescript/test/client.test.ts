// Runs the SDK against a live MemoryService: MEMORY_SERVICE_URL and MEMORY_SERVICE_KEY (a tenant key) say where.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { createMemoryClient, isProblem, ProblemError, unwrap, type MemoryResponse } from "../src/index.js";

const baseUrl = process.env.MEMORY_SERVICE_URL;
const apiKey = process.env.MEMORY_SERVICE_KEY;
if (!baseUrl || !apiKey) throw new Error("Set MEMORY_SERVICE_URL and MEMORY_SERVICE_KEY to run the SDK tests against a live service.");

const client = createMemoryClient({ baseUrl, apiKey });
const newUser = () => `ts-sdk-${randomUUID()}`;
const path = (user_id: string) => ({ params: { path: { user_id } } });

async function create(user_id: string, content: string, extra: { kind?: MemoryResponse["kind"]; tags?: string[] } = {}) {
  return unwrap(client.POST("/v1/users/{user_id}/memories", { ...path(user_id), body: { content, ...extra } }));
}

describe("MemoryService TypeScript SDK", () => {
  test("creates a memory and batch creates more", async () => {
    const user = newUser();
    const one = await create(user, "Prefers tea over coffee", { kind: "preference", tags: ["drinks"] });
    assert.match(one.id, /^[0-9a-f-]{36}$/);
    assert.equal(one.kind, "preference");
    assert.deepEqual(one.tags, ["drinks"]);

    const batchCreate = () => client.POST("/v1/users/{user_id}/memories/batch", {
      params: { path: { user_id: user }, header: { "Idempotency-Key": `batch-${user}` } },
      body: { items: [{ content: "Lives in Porto", kind: "fact" }, { content: "Ran a marathon in May", kind: "event" }] },
    });
    const batch = await unwrap(batchCreate());
    assert.deepEqual(batch.items.map((m) => m.content), ["Lives in Porto", "Ran a marathon in May"]);

    // A retried batch with the same Idempotency-Key answers the first result and writes nothing.
    const retried = await unwrap(batchCreate());
    assert.deepEqual(retried.items.map((m) => m.id), batch.items.map((m) => m.id));
    const all = await unwrap(client.GET("/v1/users/{user_id}/memories", path(user)));
    assert.equal(all.items.length, 3);
  });

  test("lists every memory once by following next_cursor", async () => {
    const user = newUser();
    const made = new Set<string>();
    for (const content of ["Has a dog", "Plays chess", "Speaks Dutch", "Grows tomatoes", "Reads sci-fi"])
      made.add((await create(user, content)).id);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await unwrap(client.GET("/v1/users/{user_id}/memories", {
        params: { path: { user_id: user }, query: { limit: 2, cursor } },
      }));
      assert.ok(page.items.length <= 2, `a page of limit 2 had ${page.items.length} items`);
      seen.push(...page.items.map((m) => m.id));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.equal(seen.length, made.size);
    assert.deepEqual(new Set(seen), made);
  });

  test("gets a memory with its ETag, and a PATCH on a stale ETag is a 412 ProblemError", async () => {
    const user = newUser();
    const created = await create(user, "Works as a nurse");
    const get = await client.GET("/v1/users/{user_id}/memories/{id}", { params: { path: { user_id: user, id: created.id } } });
    const memory = await unwrap(get);
    assert.equal(memory.content, "Works as a nurse");
    const etag = get.response.headers.get("ETag");
    assert.ok(etag, "GET returned no ETag");

    const patched = await client.PATCH("/v1/users/{user_id}/memories/{id}", {
      params: { path: { user_id: user, id: created.id }, header: { "If-Match": etag } },
      body: { content: "Works as a paediatric nurse" },
    });
    assert.equal((await unwrap(patched)).content, "Works as a paediatric nurse");
    assert.notEqual(patched.response.headers.get("ETag"), etag);

    const stale = client.PATCH("/v1/users/{user_id}/memories/{id}", {
      params: { path: { user_id: user, id: created.id }, header: { "If-Match": etag } },
      body: { content: "Works as a surgeon" },
    });
    const error = await unwrap(stale).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ProblemError, `expected a ProblemError, got ${String(error)}`);
    assert.ok(isProblem(error, 412));
    assert.equal(error.status, 412);
    assert.ok(error.title.length > 0);
    assert.ok(error.trace_id, "the problem carries no trace_id");
    const after = await unwrap(client.GET("/v1/users/{user_id}/memories/{id}", { params: { path: { user_id: user, id: created.id } } }));
    assert.equal(after.content, "Works as a paediatric nurse");
  });

  test("a validation problem carries its field errors", async () => {
    const error = await unwrap(client.POST("/v1/users/{user_id}/memories", { ...path(newUser()), body: { content: "x", importance: 7 } }))
      .then(() => undefined, (e: unknown) => e);
    assert.ok(isProblem(error, 400), `expected a 400 ProblemError, got ${String(error)}`);
    assert.ok(Object.keys(error.errors).length > 0, "no field errors");
  });

  test("searches a user's memories", async () => {
    const user = newUser();
    await create(user, "Allergic to peanuts");
    await create(user, "Drives a red bicycle to work");
    const found = await unwrap(client.POST("/v1/users/{user_id}/memories/search", { ...path(user), body: { query: "peanuts allergy", limit: 5 } }));
    assert.ok(found.items.length > 0);
    assert.equal(found.items[0].memory.content, "Allergic to peanuts");
  });

  test("builds context for a query", async () => {
    const user = newUser();
    const memory = await create(user, "Prefers answers in Portuguese", { kind: "preference" });
    const context = await unwrap(client.POST("/v1/users/{user_id}/context", { ...path(user), body: { query: "Which language should answers use?" } }));
    assert.match(context.system_prompt, /Portuguese/);
    assert.ok(context.memories.some((m) => m.id === memory.id));
    assert.ok(context.token_count > 0 && context.token_count <= context.token_budget);
  });

  test("extracts memories from a conversation", async () => {
    const user = newUser();
    const outcome = await unwrap(client.POST("/v1/users/{user_id}/memories/extract", {
      ...path(user),
      body: { messages: [{ role: "user", content: "I'm vegetarian." }, { role: "assistant", content: "Noted!" }] },
    }));
    assert.equal(outcome.dry_run, false);
    assert.ok(outcome.decisions.length > 0, "nothing was extracted");
    const id = outcome.decisions[0].memory_ids[0];
    const stored = await unwrap(client.GET("/v1/users/{user_id}/memories/{id}", { params: { path: { user_id: user, id } } }));
    assert.match(stored.content, /vegetarian/i);
  });

  test("exports, resets and erases a user", async () => {
    const user = newUser();
    const a = await create(user, "Collects stamps");
    const b = await create(user, "Hates olives");

    const exported = await unwrap(client.GET("/v1/users/{user_id}/export", path(user)));
    assert.equal(exported.user_id, user);
    assert.deepEqual(new Set(exported.memories.map((m) => m.id)), new Set([a.id, b.id]));

    const reset = await unwrap(client.DELETE("/v1/users/{user_id}/memories", path(user)));
    assert.equal(reset.deleted, 2);
    const empty = await unwrap(client.GET("/v1/users/{user_id}/memories", path(user)));
    assert.equal(empty.items.length, 0);

    await create(user, "Collects coins");
    await unwrap(client.DELETE("/v1/users/{user_id}", path(user)));
    const gone = await unwrap(client.GET("/v1/users/{user_id}/export", path(user))).then(() => undefined, (e: unknown) => e);
    assert.ok(isProblem(gone, 404), `export after erase: expected a 404 ProblemError, got ${String(gone)}`);
  });

  test("a wrong API key is a 401 ProblemError", async () => {
    const stranger = createMemoryClient({ baseUrl, apiKey: () => "not-a-key" });
    const error = await unwrap(stranger.GET("/v1/users/{user_id}/memories", path(newUser()))).then(() => undefined, (e: unknown) => e);
    assert.ok(isProblem(error, 401), `expected a 401 ProblemError, got ${String(error)}`);
  });
});
