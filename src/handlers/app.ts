import { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";
import { createErrorHandler, notFoundHandler, validationHook, type ErrorLogger } from "./errors/index.js";

export interface AppOptions {
  /** Where unexpected errors are reported (default: console.error). */
  readonly logError?: ErrorLogger;
}

/**
 * An OpenAPIHono app with the API's error model wired in: every error, unknown route and
 * failed validation answers RFC 9457 problem+json. Routes are registered by the caller.
 */
export function createApiApp<E extends Env = Env>(options: AppOptions = {}): OpenAPIHono<E> {
  const app = new OpenAPIHono<E>({ defaultHook: validationHook });
  app.onError(createErrorHandler(options.logError));
  app.notFound(notFoundHandler);
  return app;
}
