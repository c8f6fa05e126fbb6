/** Schemas shared by every route: the problem document, the job id parameter, security. */
import { z } from "@hono/zod-openapi";
import { ERROR_CODE_LIST, type ErrorCode, ERROR_CODES } from "../errors/index.js";
import { JOB_ID_PATTERN } from "../../ports/dispatcher/dispatcher.js";
import { IDEMPOTENCY_KEY_PATTERN } from "../../services/idempotency/index.js";

export const problemSchema = z
  .object({
    type: z.string().openapi({ example: "urn:dvar:problem:not_found" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(ERROR_CODE_LIST as [ErrorCode, ...ErrorCode[]]),
    instance: z.string().optional(),
    errors: z.array(z.object({ location: z.string(), path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

/** OpenAPI response entries for the given error codes (grouped by status). */
export function problemResponses(...codes: ErrorCode[]) {
  const responses: Record<number, { description: string; content: { "application/problem+json": { schema: typeof problemSchema } } }> = {};
  for (const code of ["unauthorized", ...codes] as ErrorCode[]) {
    const { status, title } = ERROR_CODES[code];
    const earlier = responses[status]?.description;
    responses[status] = {
      description: earlier ? `${earlier} / ${code}: ${title}` : `${code}: ${title}`,
      content: { "application/problem+json": { schema: problemSchema } },
    };
  }
  return responses;
}

export const jobIdParams = z.object({
  id: z.string().regex(JOB_ID_PATTERN).openapi({ param: { name: "id", in: "path" }, example: "inv_3f9c2a7d1b6e4c0a8f5d2b1c" }),
});

export const BEARER_SECURITY = [{ bearerAuth: [] }];

/** The Idempotency-Key request header of the create operations. */
export const idempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN)
    .optional()
    .openapi({ description: "Same key and body: the same resource. Same key, other body: 409 idempotency_key_reused." }),
});
