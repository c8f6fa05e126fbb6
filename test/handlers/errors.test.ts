import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import { createApiApp } from "../../src/handlers/app.js";
import { ApiError, ERROR_CODES, ERROR_CODE_LIST, PROBLEM_CONTENT_TYPE } from "../../src/handlers/errors/index.js";

function buildApp() {
  const logged: unknown[] = [];
  const app = createApiApp({ logError: (error) => logged.push(error) });
  app.openapi(
    createRoute({
      method: "post",
      path: "/things/{id}",
      request: {
        params: z.object({ id: z.string().regex(/^t_[a-z0-9]+$/) }),
        query: z.object({ dry: z.enum(["true", "false"]).optional() }),
        body: { content: { "application/json": { schema: z.object({ name: z.string().min(1), count: z.number().int().positive() }) } } },
      },
      responses: { 200: { description: "ok", content: { "application/json": { schema: z.object({ ok: z.boolean() }) } } } },
    }),
    (c) => c.json({ ok: true }, 200),
  );
  app.get("/api-error/:code", (c) => {
    throw new ApiError(c.req.param("code") as never, "Detail written for clients.");
  });
  app.get("/crash", () => {
    throw new Error("connection to db://admin:hunter2@10.0.0.5 failed");
  });
  app.get("/http-exception", () => {
    throw new HTTPException(401, { message: "internal reason from a middleware" });
  });
  app.post(
    "/limited",
    bodyLimit({ maxSize: 8, onError: () => { throw new ApiError("payload_too_large", "Bodies are limited to 8 bytes."); } }),
    (c) => c.text("ok"),
  );
  return { app, logged };
}

async function problemOf(response: Response) {
  expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
  return (await response.json()) as Record<string, unknown>;
}

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("HTTP error model", () => {
  it("passes a valid request through", async () => {
    const { app } = buildApp();
    const response = await app.request("/things/t_1", json({ name: "a", count: 2 }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("renders failed validation as 400 problem+json with one entry per issue", async () => {
    const { app } = buildApp();
    const response = await app.request("/things/t_1", json({ name: "", count: 1.5 }));
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({
      type: "urn:dvar:problem:validation_failed",
      title: ERROR_CODES.validation_failed.title,
      status: 400,
      code: "validation_failed",
      instance: "/things/t_1",
    });
    const errors = problem.errors as { location: string; path: string; message: string }[];
    expect(errors.map((e) => `${e.location}:${e.path}`).sort()).toEqual(["json:count", "json:name"]);
    expect(errors.every((e) => e.message.length > 0)).toBe(true);
  });

  it("validates path parameters and query strings the same way", async () => {
    const { app } = buildApp();
    const badParam = await problemOf(await app.request("/things/NOPE", json({ name: "a", count: 1 })));
    expect(badParam).toMatchObject({ code: "validation_failed", errors: [{ location: "param", path: "id" }] });
    const badQuery = await problemOf(await app.request("/things/t_1?dry=maybe", json({ name: "a", count: 1 })));
    expect(badQuery).toMatchObject({ code: "validation_failed", errors: [{ location: "query", path: "dry" }] });
  });

  it("answers malformed JSON with bad_request and none of the parser's text", async () => {
    const { app } = buildApp();
    const response = await app.request("/things/t_1", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ code: "bad_request", detail: ERROR_CODES.bad_request.title });
  });

  it("renders every ApiError code with the status from the one table", async () => {
    const { app } = buildApp();
    for (const code of ERROR_CODE_LIST) {
      const response = await app.request(`/api-error/${code}`);
      expect(response.status, code).toBe(ERROR_CODES[code].status);
      const problem = await problemOf(response);
      expect(Object.keys(problem).sort()).toEqual(["code", "detail", "instance", "status", "title", "type"]);
      expect(problem).toEqual({
        type: `urn:dvar:problem:${code}`,
        title: ERROR_CODES[code].title,
        status: ERROR_CODES[code].status,
        detail: "Detail written for clients.",
        code,
        instance: `/api-error/${code}`,
      });
    }
  });

  it("keeps the table closed and consistent: 4xx/5xx statuses, distinct titles", () => {
    const titles = new Set(ERROR_CODE_LIST.map((code) => ERROR_CODES[code].title));
    expect(titles.size).toBe(ERROR_CODE_LIST.length);
    for (const code of ERROR_CODE_LIST) {
      expect(code).toMatch(/^[a-z_]+$/);
      expect(ERROR_CODES[code].status).toBeGreaterThanOrEqual(400);
      expect(ERROR_CODES[code].status).toBeLessThan(600);
    }
  });

  it("answers an unexpected exception with a bare 500 and logs it, leaking nothing", async () => {
    const { app, logged } = buildApp();
    const response = await app.request("/crash");
    expect(response.status).toBe(500);
    const text = await response.clone().text();
    expect(text).not.toMatch(/hunter2|10\.0\.0\.5|db:|connection/);
    expect(await problemOf(response)).toMatchObject({ code: "internal_error", detail: ERROR_CODES.internal_error.title });
    expect(logged).toHaveLength(1);
    expect((logged[0] as Error).message).toMatch(/hunter2/);
  });

  it("maps a Hono HTTPException to its code without its message", async () => {
    const { app } = buildApp();
    const response = await app.request("/http-exception");
    expect(response.status).toBe(401);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ code: "unauthorized", detail: ERROR_CODES.unauthorized.title });
    expect(JSON.stringify(problem)).not.toMatch(/internal reason/);
  });

  it("lets middleware fail with an ApiError (body limit -> 413)", async () => {
    const { app } = buildApp();
    const response = await app.request("/limited", { method: "POST", body: "0123456789" });
    expect(response.status).toBe(413);
    expect(await problemOf(response)).toMatchObject({ code: "payload_too_large", detail: "Bodies are limited to 8 bytes." });
    expect((await app.request("/limited", { method: "POST", body: "0123" })).status).toBe(200);
  });

  it("answers unknown routes with not_found problem+json", async () => {
    const { app } = buildApp();
    const response = await app.request("/nowhere");
    expect(response.status).toBe(404);
    expect(await problemOf(response)).toMatchObject({ code: "not_found", instance: "/nowhere" });
  });
});
