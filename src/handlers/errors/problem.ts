import { ERROR_CODES, type ErrorCode } from "./codes.js";

/** An RFC 9457 problem details object, with our stable `code` and optional extensions. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly instance?: string;
  readonly errors?: readonly ValidationIssue[];
}

/** One failed check of a validated request part (body, query, path parameters, headers). */
export interface ValidationIssue {
  readonly location: string;
  readonly path: string;
  readonly message: string;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
/** Problem types are URNs: stable identifiers that clients match on and never dereference. */
export const PROBLEM_TYPE_PREFIX = "urn:dvar:problem:";

export function buildProblem(
  code: ErrorCode,
  detail: string | undefined,
  instance: string | undefined,
  errors?: readonly ValidationIssue[],
): Problem {
  const { status, title } = ERROR_CODES[code];
  return {
    type: PROBLEM_TYPE_PREFIX + code,
    title,
    status,
    detail: detail ?? title,
    code,
    ...(instance === undefined ? {} : { instance }),
    ...(errors === undefined ? {} : { errors }),
  };
}

export function problemResponse(problem: Problem, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, ...headers },
  });
}
