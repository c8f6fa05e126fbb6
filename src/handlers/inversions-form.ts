/**
 * The multipart/form-data body of POST /v1/inversions: a `config` part (JSON: the textual_inversion
 * request without `images`) and one `images` part per training image. Everything is checked here,
 * before anything is stored: the form's shape and the config (400 validation_failed), the image
 * count (MIN_INPUT_IMAGES..MAX_INPUT_IMAGES, 400), each file's size (413) and each file's bytes (422: decodable
 * PNG, JPEG or WebP of the type it claims, at most MAX_UPLOAD_PIXELS). Decoding is the injected
 * `inspect` (ApiDeps.inspectUpload, sharp), so this module itself needs no Node-only package.
 */
import type { Context } from "hono";
import { ApiError, validationFailed, validationIssues, type ValidationIssue } from "./errors/index.js";
import { MAX_INPUT_IMAGES, MIN_INPUT_IMAGES, textualInversionUploadConfigSchema, type TextualInversionUploadConfig } from "./schemas/inversion-request.js";
import type { InspectedUpload, UploadInspector } from "../services/uploads/inspected-upload.js";
import { MAX_UPLOAD_BYTES, sniffImageType, UPLOAD_CONTENT_TYPES, UploadRejectedError, type UploadContentType } from "../services/uploads/upload-rules.js";

/** The whole multipart body (the route's body limit); larger image sets go through POST /v1/uploads. */
export const MAX_MULTIPART_BODY_BYTES = 64 * 1024 * 1024;

export interface InversionForm {
  readonly config: TextualInversionUploadConfig;
  /** In part order; `label` names the part in later errors (the service's image checks). */
  readonly images: Array<InspectedUpload & { readonly label: string }>;
}

const invalid = (errors: ValidationIssue[]) => validationFailed("form", errors);

const issue = (path: string, message: string): ValidationIssue => ({ location: "form", path, message });

/** An image part as errors name it: its index among the `images` parts and its file name, e.g. `images[2] ("cat.png")`. */
const describeFile = (i: number, file: File) => `images[${i}] (${JSON.stringify(file.name.slice(0, 100))})`;

async function parseConfig(parts: Array<string | File>): Promise<TextualInversionUploadConfig> {
  if (parts.length !== 1) throw invalid([issue("config", parts.length === 0 ? "the config part (JSON) is required" : "send one config part")]);
  const part = parts[0]!;
  const text = typeof part === "string" ? part : await part.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid([issue("config", `not valid JSON (${(error as Error).message})`)]);
  }
  const parsed = textualInversionUploadConfigSchema.safeParse(json);
  if (!parsed.success) throw invalid(validationIssues("form", parsed.error).map((e) => ({ ...e, path: e.path ? `config.${e.path}` : "config" })));
  return parsed.data;
}

/** The declared type when it is one we accept; the sniffed one when the client declared none. */
function imageType(i: number, file: File, bytes: Uint8Array): UploadContentType {
  const declared = file.type.split(";")[0]!.trim().toLowerCase();
  if ((UPLOAD_CONTENT_TYPES as readonly string[]).includes(declared)) return declared as UploadContentType;
  if (declared === "" || declared === "application/octet-stream") {
    const sniffed = sniffImageType(bytes);
    if (sniffed) return sniffed;
    throw new ApiError("invalid_image", `${describeFile(i, file)} is not a PNG, JPEG or WebP image.`);
  }
  throw new ApiError("invalid_image", `${describeFile(i, file)} has type ${declared}; send ${UPLOAD_CONTENT_TYPES.join(", ")}.`);
}

export async function readInversionForm(c: Context, inspect: UploadInspector): Promise<InversionForm> {
  let form: FormData;
  try {
    form = await c.req.formData();
  } catch (error) {
    throw new ApiError("bad_request", "The multipart/form-data body cannot be parsed.", { cause: error });
  }
  const configParts: Array<string | File> = [];
  const imageParts: Array<string | File> = [];
  const unknown: ValidationIssue[] = [];
  for (const [name, value] of form.entries()) {
    if (name === "config") configParts.push(value);
    else if (name === "images") imageParts.push(value);
    else unknown.push(issue(name, "unknown part (send config and images)"));
  }
  if (unknown.length > 0) throw invalid(unknown);
  const config = await parseConfig(configParts);
  if (imageParts.length < MIN_INPUT_IMAGES || imageParts.length > MAX_INPUT_IMAGES) {
    throw invalid([issue("images", `send ${MIN_INPUT_IMAGES} to ${MAX_INPUT_IMAGES} image files as images parts (got ${imageParts.length})`)]);
  }
  const files: File[] = [];
  for (const [i, part] of imageParts.entries()) {
    if (typeof part === "string") throw invalid([issue(`images.${i}`, "must be a file")]);
    if (part.size > MAX_UPLOAD_BYTES) throw new ApiError("payload_too_large", `${describeFile(i, part)} has ${part.size} bytes; each image is limited to ${MAX_UPLOAD_BYTES}.`);
    files.push(part);
  }
  const images: InversionForm["images"] = [];
  for (const [i, file] of files.entries()) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      images.push({ ...(await inspect(imageType(i, file, bytes), bytes)), label: describeFile(i, file) });
    } catch (error) {
      if (error instanceof UploadRejectedError) throw new ApiError("invalid_image", `${describeFile(i, file)} refused: ${error.message}.`, { cause: error });
      throw error;
    }
  }
  return { config, images };
}
