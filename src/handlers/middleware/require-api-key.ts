import type { MiddlewareHandler } from "hono";
import { bearerToken, type Principal } from "../../services/auth/index.js";
import { ApiError } from "../errors/index.js";

/** Hono context variables set by `requireApiKey`. */
export interface AuthEnv {
  Variables: { principal: Principal };
}

export interface ApiKeyAuthenticator {
  authenticate(key: string): Promise<Principal | undefined>;
}

const CHALLENGE = { "www-authenticate": 'Bearer realm="api"' };

/**
 * Authenticates `Authorization: Bearer sk_...` and puts the caller's principal on the context
 * (`c.get("principal")`). A missing or unknown key answers 401 problem+json; the detail says
 * which, never whether a similar key exists.
 */
export function requireApiKey(keys: ApiKeyAuthenticator): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (token === undefined) {
      throw new ApiError("unauthorized", "Send an API key as 'Authorization: Bearer sk_...'.", { headers: CHALLENGE });
    }
    const principal = await keys.authenticate(token);
    if (!principal) throw new ApiError("unauthorized", "The API key is invalid or revoked.", { headers: CHALLENGE });
    c.set("principal", principal);
    await next();
  };
}
