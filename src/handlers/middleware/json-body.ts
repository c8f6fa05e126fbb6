import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors/index.js";

/**
 * Requests with a JSON body: another content type is 415 and a body over `maxBytes` is 413,
 * both before anything is parsed.
 */
export function jsonBody(maxBytes: number): MiddlewareHandler[] {
  const contentType: MiddlewareHandler = async (c, next) => {
    const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") throw new ApiError("unsupported_media_type", "Send the body as application/json.");
    await next();
  };
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `JSON bodies are limited to ${maxBytes} bytes.`);
    },
  });
  return [contentType, limit];
}
