import { statusOf, type ErrorCode } from "./codes.js";
import { buildProblem, problemResponse, type ValidationIssue } from "./problem.js";

/**
 * An error meant for the client: the code picks status and title, `detail` is a message
 * written for clients (never an internal exception's text; keep those in `cause`).
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Per-field problems (validation_failed raised outside zod's hook, e.g. a multipart form). */
  readonly errors: readonly ValidationIssue[] | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; headers?: Record<string, string>; errors?: readonly ValidationIssue[] }) {
    super(detail ?? code, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = detail;
    this.headers = options?.headers;
    this.errors = options?.errors;
  }

  get status(): number {
    return statusOf(this.code);
  }

  getResponse(instance?: string): Response {
    return problemResponse(buildProblem(this.code, this.detail, instance, this.errors), this.headers ? { ...this.headers } : undefined);
  }
}
