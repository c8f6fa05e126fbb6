import { describe, expect, it } from "vitest";
import {
  createDispatcher,
  defaultModalDeployment,
  InProcessDispatcher,
  InvalidDispatcherConfigError,
  parseDispatcherConfig,
  parseModalDeployment,
} from "../../../src/ports/dispatcher/index.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const MODAL = {
  DVAR_DISPATCHER: "modal",
  DVAR_STORE: "s3",
  DVAR_MODAL_GIT_URL: "https://github.com/example/dvar.git",
  DVAR_MODAL_GIT_COMMIT: COMMIT,
};

describe("parseDispatcherConfig", () => {
  it("defaults to the in-process dispatcher with concurrency 1", () => {
    expect(parseDispatcherConfig({})).toEqual({ kind: "inprocess", concurrency: 1 });
    expect(parseDispatcherConfig({ DVAR_DISPATCHER: "", DVAR_DISPATCH_CONCURRENCY: "" })).toEqual({ kind: "inprocess", concurrency: 1 });
    expect(parseDispatcherConfig({ DVAR_DISPATCHER: "inprocess", DVAR_DISPATCH_CONCURRENCY: "3" })).toEqual({ kind: "inprocess", concurrency: 3 });
  });

  it("fills Modal settings from iac/modal/deployment.json, with environment overrides", () => {
    const deployment = defaultModalDeployment();
    const config = parseDispatcherConfig(MODAL);
    if (config.kind !== "modal") throw new Error("expected modal");
    expect(config.app).toBe(deployment.app);
    expect(config.gpu).toBe(deployment.gpu);
    expect(config.secrets).toEqual(deployment.secrets);
    expect(config.timeoutMs).toBe(600_000 + deployment.timeoutMarginMs);
    expect(config.image.registry).toBe(deployment.image.registry);
    expect(config.image.commands).toHaveLength(deployment.image.commands.length);

    const custom = parseDispatcherConfig({
      ...MODAL,
      DVAR_MODAL_APP: "dvar-staging",
      DVAR_MODAL_ENVIRONMENT: "staging",
      DVAR_MODAL_GPU: "H100:2",
      DVAR_MODAL_SECRETS: " s3-staging , modal-token ,",
      DVAR_SLICE_MAX_MS: "120500",
      DVAR_MODAL_TIMEOUT_MARGIN_MS: "0",
    });
    expect(custom).toMatchObject({ app: "dvar-staging", environment: "staging", gpu: "H100:2", secrets: ["s3-staging", "modal-token"] });
    // Whole seconds, rounded up: Modal refuses fractions.
    expect(custom.kind === "modal" && custom.timeoutMs).toBe(121_000);
  });

  it("forwards DVAR_* variables (not others) into the sandbox env, over the deployment's env", () => {
    const config = parseDispatcherConfig({ ...MODAL, DVAR_S3_BUCKET: "b", HOME: "/root", AWS_SECRET_ACCESS_KEY: "never-forwarded" });
    if (config.kind !== "modal") throw new Error("expected modal");
    expect(config.env).toMatchObject({ DVAR_S3_BUCKET: "b", DVAR_STORE: "s3", DVAR_DISPATCHER: "modal", NODE_ENV: "production" });
    expect(config.env).not.toHaveProperty("HOME");
    // Billed as the sandbox's GPU, not as whatever the dispatching process says it runs on.
    expect(parseDispatcherConfig({ ...MODAL, DVAR_DEVICE: "cpu" })).toMatchObject({ env: { DVAR_DEVICE: "nvidia-l40s" } });
    expect(parseDispatcherConfig({ ...MODAL, DVAR_MODAL_GPU: "H100:2" })).toMatchObject({ env: { DVAR_DEVICE: "nvidia-h100-x2" } });
    expect(parseDispatcherConfig({ ...MODAL, DVAR_MODAL_GPU: "A100-80GB" })).toMatchObject({ env: { DVAR_DEVICE: "nvidia-a100-80gb" } });
    // ...and run their models there, whatever the dispatching process uses itself.
    expect(config.env).toMatchObject({ DVAR_ORT_PROVIDERS: "cuda,cpu" });
    expect(parseDispatcherConfig({ ...MODAL, DVAR_ORT_PROVIDERS: "cpu" })).toMatchObject({ env: { DVAR_ORT_PROVIDERS: "cuda,cpu" } });
    expect(config.env).not.toHaveProperty("AWS_SECRET_ACCESS_KEY");
  });

  const refusals: Array<[string, Record<string, string>, RegExp]> = [
    ["an unknown dispatcher", { DVAR_DISPATCHER: "lambda" }, /DVAR_DISPATCHER/],
    ["zero concurrency", { DVAR_DISPATCH_CONCURRENCY: "0" }, /DVAR_DISPATCH_CONCURRENCY/],
    ["non-numeric concurrency", { DVAR_DISPATCH_CONCURRENCY: "two" }, /DVAR_DISPATCH_CONCURRENCY/],
    ["Modal with the filesystem store", { ...MODAL, DVAR_STORE: "fs" }, /DVAR_STORE=s3/],
    ["Modal without a project source", { DVAR_DISPATCHER: "modal", DVAR_STORE: "s3" }, /DVAR_MODAL_GIT_URL.*DVAR_MODAL_IMAGE/],
    ["both a git source and an image", { ...MODAL, DVAR_MODAL_IMAGE: "ghcr.io/x/y:1" }, /not both/],
    ["a branch instead of a commit", { ...MODAL, DVAR_MODAL_GIT_COMMIT: "main" }, /DVAR_MODAL_GIT_COMMIT/],
    ["a git URL that could break the shell command", { ...MODAL, DVAR_MODAL_GIT_URL: "https://x/y.git; rm -rf /" }, /DVAR_MODAL_GIT_URL/],
    ["an invalid GPU", { ...MODAL, DVAR_MODAL_GPU: "H100 x2" }, /DVAR_MODAL_GPU/],
    ["a credential in DVAR_*", { ...MODAL, DVAR_S3_SECRET_ACCESS_KEY: "x" }, /DVAR_S3_SECRET_ACCESS_KEY.*Modal secret/],
    ["an invalid secret name", { ...MODAL, DVAR_MODAL_SECRETS: "ok,not ok" }, /not ok/],
    ["a timeout over 24 h", { ...MODAL, DVAR_SLICE_MAX_MS: String(25 * 3600 * 1000) }, /24 h/],
  ];
  it.each(refusals)("refuses %s", (_what, env, message) => {
    expect(() => parseDispatcherConfig(env)).toThrow(InvalidDispatcherConfigError);
    expect(() => parseDispatcherConfig(env)).toThrow(message);
  });
});

describe("the Modal deployment description", () => {
  it("iac/modal/deployment.json is valid, installs Node 20 and the CUDA 12 providers, and pins the project", () => {
    const d = defaultModalDeployment();
    const commands = d.image.commands.join("\n");
    expect(commands).toContain("setup_20.x");
    expect(commands).toContain("ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci");
    expect(commands).toContain("{{gitCommit}}");
    expect(d.entrypoint.at(-1)).toMatch(/run-slice\.js$/);
    // No credentials in the description: they come from the named Modal secrets.
    expect(Object.keys(d.env).filter((k) => /SECRET|TOKEN|KEY/.test(k))).toEqual([]);
  });

  it("refuses a malformed description, naming the field", () => {
    const d = defaultModalDeployment();
    expect(() => parseModalDeployment({ ...d, gpu: "" })).toThrow(/gpu/);
    expect(() => parseModalDeployment({ ...d, workdir: "app" })).toThrow(/workdir/);
    expect(() => parseModalDeployment({ ...d, surprise: 1 })).toThrow(/surprise/);
  });
});

describe("createDispatcher", () => {
  it("builds the in-process dispatcher around the given slice handler", async () => {
    const ran: string[] = [];
    const d = await createDispatcher({ kind: "inprocess", concurrency: 2 }, { runSlice: async (i) => void ran.push(`${i.jobId}/${i.slice}`) });
    expect(d).toBeInstanceOf(InProcessDispatcher);
    await d.dispatch({ jobId: "x", slice: 4 });
    await d.close();
    expect(ran).toEqual(["x/4"]);
  });
});
