/**
 * The Modal dispatcher against a local fake of Modal's gRPC API (test/support/modal-fake): the
 * real `modal` SDK sends real requests, and the test reads what arrived.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ModalClient } from "modal";
import { parseDispatcherConfig, type ModalDispatcherConfig } from "../../../src/ports/dispatcher/index.js";
import { ModalDispatcher, sandboxName } from "../../../src/ports/dispatcher/modal/modal-dispatcher.js";
import { DispatchError } from "../../../src/ports/dispatcher/dispatcher.js";
import { FakeModal } from "../../support/modal-fake/server.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const ENV = {
  DVAR_DISPATCHER: "modal",
  DVAR_STORE: "s3",
  DVAR_S3_BUCKET: "dvar-jobs",
  DVAR_S3_ENDPOINT: "https://s3.example.com",
  DVAR_SLICE_MAX_MS: "600000",
  DVAR_MODAL_GIT_URL: "https://github.com/example/dvar-inversion.git",
  DVAR_MODAL_GIT_COMMIT: COMMIT,
  DVAR_MODAL_GPU: "H100",
  PATH: "/usr/bin",
};

let fake: FakeModal;
const saved: Record<string, string | undefined> = {};
const dispatchers: ModalDispatcher[] = [];

beforeAll(async () => {
  fake = new FakeModal(["dvar-s3", "dvar-modal"]);
  const url = await fake.start();
  const vars = { MODAL_SERVER_URL: url, MODAL_TOKEN_ID: "ak-test", MODAL_TOKEN_SECRET: "as-test", MODAL_IMAGE_BUILDER_VERSION: undefined };
  for (const [name, value] of Object.entries(vars)) {
    saved[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

afterAll(() => {
  fake.stop();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

afterEach(async () => {
  while (dispatchers.length > 0) await dispatchers.pop()!.close();
  fake.calls.length = 0;
  fake.runningNames.clear();
});

function modalConfig(env: Record<string, string> = ENV): ModalDispatcherConfig {
  const config = parseDispatcherConfig(env);
  if (config.kind !== "modal") throw new Error("expected a Modal config");
  return config;
}

function dispatcher(config = modalConfig()): ModalDispatcher {
  const d = new ModalDispatcher(config);
  dispatchers.push(d);
  return d;
}

describe("ModalDispatcher against a fake Modal API", () => {
  it("creates one GPU sandbox per slice with the image, command, env, secrets and timeout", async () => {
    const receipt = await dispatcher().dispatch({ jobId: "job_abc123", slice: 3 });
    expect(receipt).toMatchObject({ jobId: "job_abc123", slice: 3, dispatcher: "modal", duplicate: false });
    expect(receipt.ref).toMatch(/^sb-/);

    // Every request carried the configured token.
    expect(fake.calls.length).toBeGreaterThan(0);
    for (const call of fake.calls) expect([call.tokenId, call.tokenSecret]).toEqual(["ak-test", "as-test"]);

    // The app, looked up by name and created if missing (OBJECT_CREATION_TYPE_CREATE_IF_MISSING = 1).
    expect(fake.requests("AppGetOrCreate")).toEqual([{ appName: "dvar-inversion", objectCreationType: 1 }]);

    // The image: the registry base as one layer, then on top of it Node 20, the project at the
    // pinned commit and the CUDA 12 providers (the SDK builds one layer per call).
    const images = fake.calls.filter((c) => c.method === "ImageGetOrCreate");
    expect(images).toHaveLength(2);
    const layer = (i: number) => images[i]!.request.image as { dockerfileCommands: string[]; baseImages?: unknown[] };
    expect(images.every((c) => c.request.appId === "ap-dvar-inversion")).toBe(true);
    expect(layer(0).dockerfileCommands).toEqual(["FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"]);
    expect(layer(1).baseImages).toEqual([{ dockerTag: "base", imageId: images[0]!.response!.imageId }]);
    const commands = layer(1).dockerfileCommands;
    expect(commands[0]).toBe("FROM base");
    expect(commands.some((c) => c.includes("setup_20.x") && c.includes("nodejs"))).toBe(true);
    expect(commands).toContain(`RUN git clone https://github.com/example/dvar-inversion.git /app && git -C /app checkout --detach ${COMMIT}`);
    expect(commands.some((c) => c.startsWith("RUN ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci"))).toBe(true);
    expect(commands.join("\n")).not.toContain("{{");

    // Named secrets, then the plain env as an ephemeral secret (OBJECT_CREATION_TYPE_EPHEMERAL = 5).
    const secretRequests = fake.requests("SecretGetOrCreate");
    expect(secretRequests.filter((r) => r.deploymentName).map((r) => r.deploymentName).sort()).toEqual(["dvar-modal", "dvar-s3"]);
    const envSecret = secretRequests.find((r) => r.objectCreationType === 5);
    const envDict = envSecret!.envDict as Record<string, string>;
    expect(envDict).toMatchObject({
      DVAR_STORE: "s3",
      DVAR_S3_BUCKET: "dvar-jobs",
      DVAR_S3_ENDPOINT: "https://s3.example.com",
      DVAR_DISPATCHER: "modal",
      DVAR_MODAL_GIT_COMMIT: COMMIT,
      NODE_ENV: "production",
      DVAR_DEVICE: "nvidia-h100",
    });
    expect(envDict).not.toHaveProperty("PATH");

    const [create] = fake.requests("SandboxCreate");
    const definition = create!.definition as Record<string, unknown>;
    expect(create!.appId).toBe("ap-dvar-inversion");
    expect(definition.entrypointArgs).toEqual(["node", "/app/dist/functions/run-slice.js", "--job", "job_abc123", "--slice", "3"]);
    expect(definition.imageId).toBe(images[1]!.response!.imageId);
    expect(definition.timeoutSecs).toBe(600 + 300);
    expect(definition.workdir).toBe("/app");
    expect(definition.name).toBe("dvar-job_abc123-3");
    expect(definition.resources).toMatchObject({ gpuConfig: { gpuType: "H100", count: 1 }, milliCpu: 4000, memoryMb: 32768 });
    const envSecretId = fake.calls.find((c) => c.method === "SecretGetOrCreate" && c.request.objectCreationType === 5)!.response!.secretId;
    expect((definition.secretIds as string[]).slice().sort()).toEqual(["st-dvar-modal", "st-dvar-s3", envSecretId].sort());
    expect(create!.tags).toEqual([
      { tagName: "dvar-job", tagValue: "job_abc123" },
      { tagName: "dvar-slice", tagValue: "3" },
    ]);
  });

  it("reports a second dispatch of a running slice as a duplicate, and a new slice as new", async () => {
    const d = dispatcher();
    const first = await d.dispatch({ jobId: "job1", slice: 0 });
    const again = await d.dispatch({ jobId: "job1", slice: 0 });
    const next = await d.dispatch({ jobId: "job1", slice: 1 });
    expect([first.duplicate, again.duplicate, next.duplicate]).toEqual([false, true, false]);
    expect(again.ref).toBe("dvar-job1-0");
    expect(fake.requests("SandboxCreate").map((r) => (r.definition as { name: string }).name)).toEqual(["dvar-job1-0", "dvar-job1-0", "dvar-job1-1"]);
    // The app and the image (two layers) are resolved once per dispatcher, not once per slice.
    expect(fake.requests("AppGetOrCreate")).toHaveLength(1);
    expect(fake.requests("ImageGetOrCreate")).toHaveLength(2);
  });

  it("uses a prebuilt image tag as is, and the configured GPU type", async () => {
    const { DVAR_MODAL_GIT_URL: _u, DVAR_MODAL_GIT_COMMIT: _c, ...rest } = ENV;
    await dispatcher(modalConfig({ ...rest, DVAR_MODAL_IMAGE: "ghcr.io/example/dvar:1.0.0", DVAR_MODAL_GPU: "A100-80GB" })).dispatch({ jobId: "j", slice: 0 });
    const images = fake.requests("ImageGetOrCreate");
    expect(images.map((r) => (r.image as { dockerfileCommands: string[] }).dockerfileCommands)).toEqual([["FROM ghcr.io/example/dvar:1.0.0"]]);
    const [create] = fake.requests("SandboxCreate");
    expect((create!.definition as { resources: { gpuConfig: unknown } }).resources.gpuConfig).toMatchObject({ gpuType: "A100-80GB", count: 1 });
  });

  it("fails with a DispatchError naming the slice when a secret does not exist", async () => {
    const d = dispatcher(modalConfig({ ...ENV, DVAR_MODAL_SECRETS: "dvar-s3,missing-secret" }));
    const error = await d.dispatch({ jobId: "job9", slice: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DispatchError);
    expect((error as Error).message).toContain("job9/2");
    expect(fake.requests("SandboxCreate")).toHaveLength(0);
  });

  it("refuses an invalid invocation before calling Modal", async () => {
    await expect(dispatcher().dispatch({ jobId: "../etc", slice: 0 })).rejects.toThrow(/job id/);
    await expect(dispatcher().dispatch({ jobId: "ok", slice: -1 })).rejects.toThrow(/slice/);
    expect(fake.calls).toHaveLength(0);
  });

  it("can use an injected client and refuses dispatches after close", async () => {
    const client = new ModalClient();
    const d = new ModalDispatcher(modalConfig(), { client });
    await d.close();
    await expect(d.dispatch({ jobId: "j", slice: 0 })).rejects.toThrow(/closed/);
    client.close();
  });
});

describe("sandboxName", () => {
  it("is readable when it fits Modal's 63 characters and hashed when it does not", () => {
    expect(sandboxName({ jobId: "job_1", slice: 12 })).toBe("dvar-job_1-12");
    const long = "j".repeat(64);
    const name = sandboxName({ jobId: long, slice: 7 });
    expect(name).toMatch(/^dvar-[0-9a-f]{32}-7$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(sandboxName({ jobId: "k".repeat(64), slice: 7 })).not.toBe(name);
  });
});
