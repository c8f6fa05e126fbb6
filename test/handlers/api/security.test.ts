/** Shared security cases for every /v1 route: a key is required, and another tenant's job is absent. */
import { describe, expect, it } from "vitest";
import { createHarness, problem, syntheticBody } from "./harness.js";

interface RouteCase {
  readonly name: string;
  readonly method: "GET" | "POST";
  /** `{id}` is replaced by a job of tenant A. */
  readonly path: string;
  readonly body?: unknown;
  readonly contentType?: string;
}

export const ROUTES: readonly RouteCase[] = [
  { name: "create", method: "POST", path: "/v1/inversions", body: syntheticBody(), contentType: "application/json" },
  { name: "list", method: "GET", path: "/v1/inversions" },
  { name: "get", method: "GET", path: "/v1/inversions/{id}" },
  { name: "cancel", method: "POST", path: "/v1/inversions/{id}/cancel" },
  { name: "embedding", method: "GET", path: "/v1/inversions/{id}/embedding" },
  { name: "events", method: "GET", path: "/v1/inversions/{id}/events" },
  { name: "usage", method: "GET", path: "/v1/usage" },
  { name: "generate", method: "POST", path: "/v1/generations", body: { inversion_id: "inv_00000000", prompt: "a photo of <x>" }, contentType: "application/json" },
  { name: "generation", method: "GET", path: "/v1/generations/gen_00000000" },
  { name: "generation image", method: "GET", path: "/v1/generations/gen_00000000/images/0" },
  { name: "upload", method: "POST", path: "/v1/uploads", body: "x", contentType: "image/png" },
  { name: "webhook secret", method: "GET", path: "/v1/webhook-secret" },
  { name: "webhook secret rotation", method: "POST", path: "/v1/webhook-secret/rotate" },
];

const JOB_ROUTES = ROUTES.filter((r) => r.path.includes("{id}"));

async function setup() {
  const h = await createHarness({ runSlices: false });
  const { id } = (await (await h.post("/v1/inversions", syntheticBody())).json()) as { id: string };
  const send = (route: RouteCase, key: string | null, authorization?: string) => {
    const headers: Record<string, string> = route.contentType ? { "content-type": route.contentType } : {};
    if (authorization !== undefined) headers.authorization = authorization;
    const body = route.body === undefined ? undefined : typeof route.body === "string" ? route.body : JSON.stringify(route.body);
    return h.call(route.path.replace("{id}", id), { method: route.method, headers, key, ...(body === undefined ? {} : { body }) });
  };
  return { h, id, send };
}

describe("every /v1 route requires an API key", () => {
  it.each(ROUTES.map((r) => [r.name, r] as const))("%s: missing, malformed and unknown keys answer 401", async (_name, route) => {
    const { send } = await setup();
    for (const authorization of [undefined, "Basic abc", "Bearer sk_unknownunknownunknownunknown"]) {
      const response = await send(route, null, authorization);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain("Bearer");
      expect((await problem(response)).code).toBe("unauthorized");
    }
  });
});

describe("another tenant's job is absent", () => {
  it.each(JOB_ROUTES.map((r) => [r.name, r] as const))("%s: tenant B gets 404 for tenant A's job", async (_name, route) => {
    const { h, send, id } = await setup();
    const response = await send(route, h.keyB);
    expect(response.status).toBe(404);
    expect((await problem(response)).code).toBe("not_found");
    // and the job is untouched
    const mine = (await (await h.call(`/v1/inversions/${id}`)).json()) as { status: string };
    expect(mine.status).toBe("queued");
  });

  it("tenant B's list does not show tenant A's jobs", async () => {
    const { h } = await setup();
    const page = (await (await h.call("/v1/inversions", { key: h.keyB })).json()) as { data: unknown[] };
    expect(page.data).toEqual([]);
  });
});
