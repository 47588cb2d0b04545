import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";
import type { paths } from "./schema.js";

export type * from "./schema.js";
export { ProblemError, isProblem, unwrap, type CallResult } from "./problem.js";

/** A tenant API key (or the admin key for /v1/admin), or a function that returns one per request. */
export type ApiKey = string | (() => string | Promise<string>);

export interface MemoryClientOptions extends ClientOptions {
  /** The service's root URL, e.g. http://localhost:8080. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>` on every request. */
  apiKey?: ApiKey;
}

export type MemoryClient = Client<paths>;

/**
 * A typed MemoryService client: `client.GET("/v1/users/{user_id}/memories", { params: { path: { user_id } } })`.
 * Wrap a call in {@link unwrap} to get its data or a {@link ProblemError}.
 */
export function createMemoryClient({ apiKey, ...options }: MemoryClientOptions): MemoryClient {
  const client = createClient<paths>(options);
  if (apiKey !== undefined) client.use(bearerAuth(apiKey));
  return client;
}

/** openapi-fetch middleware that adds `Authorization: Bearer <key>` to each request. */
export function bearerAuth(apiKey: ApiKey): Middleware {
  return {
    async onRequest({ request }) {
      const key = typeof apiKey === "function" ? await apiKey() : apiKey;
      request.headers.set("Authorization", `Bearer ${key}`);
      return request;
    },
  };
}
