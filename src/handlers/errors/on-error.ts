import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError } from "./api-error.js";
import { codeForStatus } from "./codes.js";
import { buildProblem, problemResponse } from "./problem.js";

export type ErrorLogger = (error: unknown, c: Context) => void;

const defaultLogger: ErrorLogger = (error, c) => {
  console.error(`unhandled error on ${c.req.method} ${c.req.path}:`, error);
};

/**
 * The app's one error renderer. ApiError renders itself; Hono's HTTPException (malformed JSON,
 * body limits, ...) keeps its status but gets our code and title, not its message; anything
 * else is logged and answered as a bare 500, so internal messages never reach clients.
 */
export function createErrorHandler(log: ErrorLogger = defaultLogger): ErrorHandler {
  return (error, c) => {
    const instance = c.req.path;
    if (error instanceof ApiError) return error.getResponse(instance);
    if (error instanceof HTTPException) {
      const status = error.status;
      const code = codeForStatus(status);
      if (status >= 500) log(error, c);
      return problemResponse(buildProblem(code, undefined, instance));
    }
    log(error, c);
    return problemResponse(buildProblem("internal_error", undefined, instance));
  };
}

export const notFoundHandler: NotFoundHandler = (c) =>
  problemResponse(buildProblem("not_found", `No route for ${c.req.method} ${c.req.path}.`, c.req.path));
