/**
 * An RFC 9457 problem+json response from MemoryService as a typed error. Every error the service writes carries
 * `status`, `title` and a `trace_id` to quote when reporting it; a 400 also carries field `errors`.
 */
export class ProblemError extends Error {
  /** The HTTP status (from the problem, else from the response). */
  readonly status: number;
  readonly title: string;
  readonly type?: string;
  readonly detail?: string;
  /** Field errors of a validation problem (400): field name to messages; empty otherwise. */
  readonly errors: Record<string, string[]>;
  readonly trace_id?: string;
  /** Seconds from Retry-After (429, 503), when the service sent it. */
  readonly retry_after?: number;
  /** The whole problem body, extensions included. */
  readonly problem: Record<string, unknown>;
  readonly response: Response;

  constructor(response: Response, body: unknown) {
    const problem = isRecord(body) ? body : {};
    const status = typeof problem.status === "number" ? problem.status : response.status;
    const title = typeof problem.title === "string" ? problem.title : response.statusText || `HTTP ${response.status}`;
    const detail = typeof problem.detail === "string" ? problem.detail : undefined;
    super(detail ? `${status} ${title}: ${detail}` : `${status} ${title}`);
    this.name = "ProblemError";
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = typeof problem.type === "string" ? problem.type : undefined;
    this.errors = isRecord(problem.errors) ? stringLists(problem.errors) : {};
    this.trace_id = typeof problem.trace_id === "string" ? problem.trace_id : undefined;
    const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
    this.retry_after = Number.isFinite(retryAfter) ? retryAfter : undefined;
    this.problem = problem;
    this.response = response;
  }
}

/** True when `error` is a {@link ProblemError}, optionally with the given status. */
export function isProblem(error: unknown, status?: number): error is ProblemError {
  return error instanceof ProblemError && (status === undefined || error.status === status);
}

/** The shape every openapi-fetch call resolves to. */
export type CallResult<T> = { data?: T; error?: unknown; response: Response };

/**
 * Awaits an openapi-fetch call and returns its data, or throws a {@link ProblemError} for a non-2xx response.
 * `const memory = await unwrap(client.GET("/v1/users/{user_id}/memories/{id}", { params }))`.
 */
export async function unwrap<T>(call: Promise<CallResult<T>> | CallResult<T>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ProblemError(response, error);
  return data as T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringLists(errors: Record<string, unknown>): Record<string, string[]> {
  const lists: Record<string, string[]> = {};
  for (const [field, messages] of Object.entries(errors))
    lists[field] = Array.isArray(messages) ? messages.map(String) : [String(messages)];
  return lists;
}
