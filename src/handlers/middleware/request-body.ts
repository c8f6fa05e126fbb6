import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors/index.js";

/**
 * Requests whose body is one of the given media types, each with its own size limit: another
 * content type is 415 and a body over its type's limit is 413, both before anything is parsed.
 */
export function requestBody(limits: Readonly<Record<string, number>>): MiddlewareHandler {
  const types = Object.keys(limits);
  const limiters = new Map(
    Object.entries(limits).map(([type, maxBytes]) => [
      type,
      bodyLimit({
        maxSize: maxBytes,
        onError: () => {
          throw new ApiError("payload_too_large", `${type} bodies are limited to ${maxBytes} bytes.`);
        },
      }),
    ]),
  );
  return async (c, next) => {
    const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase() ?? "";
    const limit = limiters.get(type);
    if (!limit) throw new ApiError("unsupported_media_type", `Send the body as ${types.join(" or ")}.`);
    return limit(c, next);
  };
}

/** Requests with a JSON body of at most `maxBytes`. */
export function jsonBody(maxBytes: number): MiddlewareHandler {
  return requestBody({ "application/json": maxBytes });
}
