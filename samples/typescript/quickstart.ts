import { createMemoryClient, isProblem, unwrap } from "memoryservice-client";

const client = createMemoryClient({
  baseUrl: process.env.MEMORY_SERVICE_URL ?? "http://127.0.0.1:8080",
  apiKey: process.env.MEMORY_SERVICE_KEY ?? "", // a tenant key
});
const alice = { params: { path: { user_id: "alice" } } };

// Remember something, then build the system-prompt context for the next turn.
const memory = await unwrap(client.POST("/v1/users/{user_id}/memories", {
  ...alice,
  body: { content: "Prefers tea over coffee", kind: "preference", tags: ["drinks"] },
}));
const context = await unwrap(client.POST("/v1/users/{user_id}/context", { ...alice, body: { query: "What should I drink?" } }));
console.log(context.system_prompt);

// Change it only if nobody else did since this read: its ETag goes back as If-Match.
const read = await client.GET("/v1/users/{user_id}/memories/{id}", { params: { path: { user_id: "alice", id: memory.id } } });
const etag = read.response.headers.get("ETag") ?? "*";
try {
  await unwrap(client.PATCH("/v1/users/{user_id}/memories/{id}", {
    params: { path: { user_id: "alice", id: memory.id }, header: { "If-Match": etag } },
    body: { content: "Prefers green tea over coffee" },
  }));
} catch (error) {
  // Every error is a ProblemError with status, title, errors and trace_id; 412 means it changed meanwhile.
  if (!isProblem(error, 412)) throw error;
  console.log(`${error.status} ${error.title} (trace ${error.trace_id})`);
}
