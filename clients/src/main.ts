// A frontend's use of the API through types generated from the public document (npm run check).
// If the document stops describing problems, headers or bodies as the server sends them, this
// program stops compiling.
import createClient from "openapi-fetch";
import type { components, paths } from "./api";

export type Problem = components["schemas"]["Problem"];

/** What a UI shows for a failed call: the stable code, the request id to quote, each invalid field. */
export function describeProblem(problem: Problem): string {
  const fields = (problem.errors ?? []).map((error) => `${error.field} (${error.code}): ${error.message}`);
  return [`${problem.code}: ${problem.detail}`, `request ${problem.request_id ?? "unknown"}`, ...fields].join("\n");
}

export function api(baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

/** Create a customer, then change it guarded by the ETag it came with. */
export async function createAndAnnotate(baseUrl: string, token: string, name: string): Promise<string> {
  const client = api(baseUrl, token);
  const created = await client.POST("/api/v1/customers", {
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    body: { kind: "individual", name },
  });
  if (created.error) throw new Error(describeProblem(created.error));
  const etag = created.response.headers.get("ETag");
  if (etag === null) throw new Error("a created customer comes with its ETag");
  const changed = await client.PATCH("/api/v1/customers/{customer_id}", {
    params: { path: { customer_id: created.data.id }, header: { "If-Match": etag } },
    body: { notes: `annotated by ${name}` },
  });
  if (changed.error) {
    // 412: someone changed it since; 428 cannot happen, If-Match is sent
    throw new Error(describeProblem(changed.error));
  }
  return changed.data.id;
}

/** A 422 names the fields it refuses. */
export async function invalidOrderFields(baseUrl: string, token: string, customerId: string): Promise<string[]> {
  const refused = await api(baseUrl, token).POST("/api/v1/orders", {
    body: {
      customer_id: customerId,
      source: "web",
      occurred_at: "2026-11-01T10:00:00Z",
      amount: "-1",
      currency: "CNY",
      quantity: 1,
      items: [],
    },
  });
  return (refused.error?.errors ?? []).map((error) => error.field);
}
