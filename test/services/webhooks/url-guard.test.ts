import { describe, expect, it } from "vitest";
import { checkWebhookUrl, WebhookUrlRefusedError, type WebhookUrlProblem } from "../../../src/services/webhooks/index.js";

const dns: Record<string, string[]> = {
  "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
  localhost: ["127.0.0.1", "::1"],
  "rebind.example.com": ["93.184.215.14", "10.0.0.8"],
  "metadata.example.com": ["169.254.169.254"],
};
const resolve = async (host: string) => dns[host] ?? [];
const strict = { allowPrivateAddresses: false, resolve };

async function refusal(url: string): Promise<WebhookUrlProblem> {
  const error = await checkWebhookUrl(url, strict).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, url).toBeInstanceOf(WebhookUrlRefusedError);
  return (error as WebhookUrlRefusedError).problem;
}

describe("checkWebhookUrl", () => {
  it("accepts a public host and returns every address it resolved to", async () => {
    const checked = await checkWebhookUrl("https://hooks.example.com/dvar?x=1", strict);
    expect(checked.url.hostname).toBe("hooks.example.com");
    expect(checked.addresses).toEqual(dns["hooks.example.com"]);
  });

  it("refuses private, loopback and link-local targets however they are spelled", async () => {
    for (const url of [
      "http://localhost:8787/hook",
      "http://127.0.0.1/",
      "http://0x7f.1/",
      "http://2130706433/",
      "http://017700000001/",
      "http://[::1]:9000/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:a9fe:a9fe]/latest/meta-data",
      "http://169.254.169.254/latest/meta-data",
      "http://metadata.example.com/",
      "http://rebind.example.com/",
      "http://[fe80::1]/",
      "http://192.168.0.10/",
    ]) {
      expect(await refusal(url), url).toBe("private_address");
    }
  });

  it("refuses malformed URLs, other schemes, credentials and unresolvable hosts", async () => {
    expect(await refusal("not a url")).toBe("invalid_url");
    expect(await refusal("/relative/path")).toBe("invalid_url");
    expect(await refusal("ftp://hooks.example.com/")).toBe("unsupported_scheme");
    expect(await refusal("file:///etc/passwd")).toBe("unsupported_scheme");
    expect(await refusal("https://user:secret@hooks.example.com/")).toBe("credentials_in_url");
    expect(await refusal("https://nowhere.example.com/")).toBe("unresolvable");
  });

  it("allows local targets when configuration allows private addresses", async () => {
    const checked = await checkWebhookUrl("http://localhost:8787/hook", { allowPrivateAddresses: true, resolve });
    expect(checked.addresses).toEqual(["127.0.0.1", "::1"]);
  });

  it("never leaks the URL's credentials into the error message", async () => {
    const error = await checkWebhookUrl("https://user:hunter2@hooks.example.com/", strict).catch((e: Error) => e);
    expect((error as Error).message).not.toContain("hunter2");
  });
});
