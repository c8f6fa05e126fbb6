import type { Context } from "hono";
import type { ZodError } from "zod";
import { buildProblem, problemResponse, type ValidationIssue } from "./problem.js";

/** zod's issues, as client-facing problems (they describe the client's input only). */
export function validationIssues(location: string, error: ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({
    location,
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
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
  const detail = `${errors.length} problem${errors.length === 1 ? "" : "s"} in the request ${result.target}.`;
  return problemResponse(buildProblem("validation_failed", detail, c.req.path, errors));
}
