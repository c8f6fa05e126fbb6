/**
 * GET /dashboard (and / redirecting to it): a page that uploads images, starts jobs and follows
 * them live through the public API with the user's key. No routes of its own beyond the static
 * page and its script; not part of the OpenAPI document.
 */
import type { Hono, Env } from "hono";
import { DASHBOARD_PAGE } from "./page.js";
import { DASHBOARD_SCRIPT } from "./script.js";

/** Only this origin's script, styles inline, fetches to this origin; nothing else. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function registerDashboard<E extends Env>(app: Hono<E>): void {
  app.get("/", (c) => c.redirect("/dashboard", 302));
  app.get("/dashboard", (c) => {
    c.header("content-security-policy", CSP);
    c.header("cache-control", "no-cache");
    return c.html(DASHBOARD_PAGE);
  });
  app.get("/dashboard/app.js", (c) => {
    c.header("cache-control", "no-cache");
    return c.body(DASHBOARD_SCRIPT, 200, { "content-type": "text/javascript; charset=utf-8" });
  });
}
