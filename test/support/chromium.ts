import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

/**
 * Debian's Chromium driven by playwright-core (which never downloads a browser here). Where it
 * is not installed the browser tests cannot run; under CI=true that is an error (.ci/run
 * installs it), the same rule as Ceph's for the S3 tests (test/support/rgw.ts).
 */
export const CHROMIUM = "/usr/bin/chromium";
export const chromiumRequired = process.env.CI === "true";

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM);
}

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile directory, removed on close. */
export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  // launchPersistentContext passes the profile as --user-data-dir (launch() refuses that flag).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 860 },
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
