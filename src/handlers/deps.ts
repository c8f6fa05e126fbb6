/**
 * What the HTTP handlers need, built once per process by the caller (`dvar serve`, tests, a
 * Workers entry) and closed over by each `registerX(app, deps)`: handlers hold no state.
 */
import type { Dispatcher } from "../ports/dispatcher/index.js";
import type { Store } from "../ports/store/index.js";
import type { Clock } from "../ports/clock.js";
import type { ImageGenerator } from "../services/generations/image-generator.js";
import type { UploadInspector } from "../services/uploads/inspected-upload.js";
import type { ModelCatalog } from "../services/models/model-catalog.js";
import type { JobEventSink } from "../services/slices/index.js";
import type { TrainingInputCheck } from "../services/inversions/training-input-error.js";
import type { WebhookNetworkPolicy } from "../services/webhooks/index.js";
import type { UploadExpiry } from "../services/uploads/upload-expiry.js";
import type { UploadStorer } from "../services/uploads/upload-rules.js";
import type { ApiKeyAuthenticator } from "./middleware/require-api-key.js";

export interface ApiDeps {
  readonly store: Store;
  readonly dispatcher: Pick<Dispatcher, "dispatch">;
  readonly keys: ApiKeyAuthenticator;
  /** Webhook URLs are checked against it when a job is created. */
  readonly webhookPolicy: WebhookNetworkPolicy;
  /**
   * When given, a textual_inversion job naming a model it does not serve is refused at creation
   * (422). Generations resolve the job's model through it (default: the bundled model).
   */
  readonly models?: ModelCatalog;
  /** Draws the images of POST /v1/generations in this process (default: sessions opened per call). */
  readonly generator?: ImageGenerator;
  /** What generations' usage records name as the device (default "cpu"). */
  readonly device?: string;
  /** Job lifecycle events raised by the API itself (cancel). */
  readonly events?: JobEventSink;
  readonly clock?: Clock;
  /** Fresh ids (default: random); injectable so tests can name jobs. */
  readonly newId?: (prefix: "inv" | "upl" | "gen") => string;
  /**
   * S3 mode: a presigned PUT URL for a Store key (S3Store.presignPut). Without it, uploads
   * come through the API as bytes (embedded mode).
   */
  readonly presignUpload?: (key: string, contentType: string, expiresInSeconds: number) => Promise<{ url: string; headers: Record<string, string> }>;
  /**
   * Checks and stores image bytes sent to POST /v1/uploads (upload-service.ts, with sharp;
   * createApi supplies it). Without it (Workers) only presigned uploads are offered.
   */
  readonly storeUpload?: UploadStorer;
  /**
   * Decodes and checks image files of a multipart POST /v1/inversions (upload-service.ts's
   * inspectUpload, with sharp; createApi supplies it). Without it, multipart bodies are refused.
   */
  readonly inspectUpload?: UploadInspector;
  /**
   * Checks a textual_inversion request's model, tokens and images at creation (training-inputs.ts,
   * with the engine; createApi supplies it). Without it (Workers) the first slice checks them.
   */
  readonly trainingInputs?: TrainingInputCheck;
  /**
   * How long uploads are kept (upload-expiry.ts): job creation refuses an upload within its job
   * window of expiry (422 upload_missing). Default DEFAULT_UPLOAD_EXPIRY (7 days); null: never.
   */
  readonly uploadExpiry?: UploadExpiry | null;
  /** How often the SSE stream polls the job record (default 500 ms). */
  readonly eventsPollMs?: number;
}

/** The deps' clock reading as a Date (system time when none is injected). */
export function nowOf(deps: Pick<ApiDeps, "clock">): Date {
  return new Date(deps.clock ? deps.clock.now() : Date.now());
}
