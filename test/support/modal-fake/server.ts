/**
 * A local fake of Modal's control-plane gRPC API, just enough for the `modal` SDK to create a
 * GPU sandbox: it records every request (decoded with modal-subset.proto) and its auth metadata,
 * and answers like Modal does, including ALREADY_EXISTS for a second running sandbox of one name.
 * Tests point the SDK at it with MODAL_SERVER_URL=http://127.0.0.1:<port> (plaintext gRPC).
 */
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

const root = protobuf.parse(readFileSync(new URL("./modal-subset.proto", import.meta.url), "utf8")).root;
const SERVICE = "/modal.client.ModalClient";

type Plain = Record<string, unknown>;

export interface RecordedCall {
  readonly method: string;
  readonly request: Plain;
  readonly tokenId: string | undefined;
  readonly tokenSecret: string | undefined;
  /** What the fake answered (absent for an error). */
  response?: Plain;
}

type Answer = Plain | { error: { code: grpc.status; details: string } };
type Handler = (request: Plain, fake: FakeModal) => Answer;

const METHODS: Record<string, Handler> = {
  AuthTokenGet: () => ({ token: fakeJwt(Math.floor(Date.now() / 1000) + 3600) }),
  AppGetOrCreate: (req) => ({ appId: `ap-${String(req.appName)}` }),
  EnvironmentGetOrCreate: () => ({ environmentId: "en-fake", metadata: { name: "main", settings: { imageBuilderVersion: "2025.06" } } }),
  SecretGetOrCreate: (req, fake) => {
    if (req.objectCreationType === 5) return { secretId: `st-ephemeral-${fake.calls.length}` };
    const name = String(req.deploymentName);
    if (!fake.secretNames.has(name)) return { error: { code: grpc.status.NOT_FOUND, details: `Secret '${name}' not found` } };
    return { secretId: `st-${name}` };
  },
  ImageGetOrCreate: (_req, fake) => ({ imageId: `im-${fake.calls.length}`, result: { status: 1 } }),
  SandboxCreate: (req, fake) => {
    const name = String((req.definition as Plain | undefined)?.name ?? "");
    if (name !== "" && fake.runningNames.has(name)) {
      return { error: { code: grpc.status.ALREADY_EXISTS, details: `Sandbox with name '${name}' already exists` } };
    }
    if (name !== "") fake.runningNames.add(name);
    // V1 sandbox ids are "sb-" and 22 alphanumerics; the SDK picks its API version from the id.
    return { sandboxId: `sb-${String(fake.calls.length).padStart(22, "0")}` };
  },
  SandboxGetTaskId: () => ({ taskId: "ta-fake" }),
};

function fakeJwt(exp: number): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "none" })}.${part({ exp })}.sig`;
}

export class FakeModal {
  readonly calls: RecordedCall[] = [];
  /** Names `secrets.fromName` finds. */
  readonly secretNames = new Set<string>();
  /** Sandbox names now "running" (a second create with one of them fails). */
  readonly runningNames = new Set<string>();
  private readonly server = new grpc.Server();
  url = "";

  constructor(secretNames: readonly string[] = []) {
    for (const name of secretNames) this.secretNames.add(name);
    const definition: Record<string, grpc.MethodDefinition<Plain, Plain>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(METHODS)) {
      const req = root.lookupType(`modal.client.${method}Request`);
      const res = root.lookupType(`modal.client.${method}Response`);
      definition[method] = {
        path: `${SERVICE}/${method}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: Plain) => Buffer.from(req.encode(req.fromObject(value)).finish()),
        requestDeserialize: (bytes: Buffer) => req.toObject(req.decode(bytes), { longs: Number, enums: Number, arrays: true, objects: true }),
        responseSerialize: (value: Plain) => Buffer.from(res.encode(res.fromObject(value)).finish()),
        responseDeserialize: (bytes: Buffer) => res.toObject(res.decode(bytes)),
      };
      implementation[method] = (call: grpc.ServerUnaryCall<Plain, Plain>, callback: grpc.sendUnaryData<Plain>) => {
        const header = (name: string) => call.metadata.get(name)[0]?.toString();
        const recorded: RecordedCall = { method, request: call.request, tokenId: header("x-modal-token-id"), tokenSecret: header("x-modal-token-secret") };
        this.calls.push(recorded);
        const answer = handler(call.request, this);
        if ("error" in answer) return callback(answer.error as grpc.ServiceError);
        recorded.response = answer;
        callback(null, answer);
      };
    }
    this.server.addService(definition, implementation);
  }

  async start(): Promise<string> {
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  stop(): void {
    this.server.forceShutdown();
  }

  /** Requests of one method, in order. */
  requests(method: string): Plain[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.request);
  }
}
