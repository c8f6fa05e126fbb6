import type { Context } from "hono";
import type { ZodError } from "zod";
import { ApiError } from "./api-error.js";
import { buildProblem, problemResponse, type ValidationIssue } from "./problem.js";

/** zod's issues, as client-facing problems (they describe the client's input only). */
export function validationIssues(location: string, error: ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({
    location,
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
}

function validationDetail(location: string, errors: readonly ValidationIssue[]): string {
  return `${errors.length} problem${errors.length === 1 ? "" : "s"} in the request ${location}.`;
}

/** A validation_failed error for a request part a handler validates itself (e.g. a multipart form). */
export function validationFailed(location: string, errors: readonly ValidationIssue[]): ApiError {
  return new ApiError("validation_failed", validationDetail(location, errors), { errors });
}

/**
 * The default hook for every @hono/zod-openapi route: a failed validation answers 400
 * problem+json with code `validation_failed` and one entry per issue.
 */
export function validationHook(
  result: { target: string } & ({ success: true } | { success: false; error: ZodError }),
  c: Context,
): Response | undefined {
  if (result.success) return undefined;
  const errors = validationIssues(result.target, result.error);
  return problemResponse(buildProblem("validation_failed", validationDetail(result.target, errors), c.req.path, errors));
}
