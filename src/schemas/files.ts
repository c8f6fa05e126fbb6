/**
 * The generated schema files under schemas/: the OpenAPI document and one JSON Schema per public
 * body, all from the zod schemas. `npm run schemas` writes them; a test fails when they are stale.
 */
import { z } from "zod";
import { createApi } from "../handlers/api.js";
import { OPENAPI_CONFIG } from "../handlers/openapi.js";
import { problemSchema } from "../handlers/schemas/common.js";
import { createGenerationRequestSchema, generationSchema } from "../handlers/schemas/generation.js";
import { createInversionRequestSchema } from "../handlers/schemas/inversion-request.js";
import { inversionListSchema, inversionSchema } from "../handlers/schemas/inversion-resource.js";
import { uploadSchema } from "../handlers/uploads-create.js";
import { usageSchema } from "../handlers/usage-get.js";
import { MemoryStore } from "../ports/store/index.js";

/** An API whose services are never called: only its route definitions are read. */
function inertApi() {
  const unused = () => {
    throw new Error("not used for document generation");
  };
  return createApi({ store: new MemoryStore(), dispatcher: { dispatch: unused }, keys: { authenticate: unused }, webhookPolicy: { allowPrivateAddresses: false } });
}

export function openApiDocument(): unknown {
  return inertApi().getOpenAPI31Document(OPENAPI_CONFIG);
}

const JSON_SCHEMAS: Record<string, { schema: z.ZodType; io: "input" | "output" }> = {
  "create-inversion-request": { schema: createInversionRequestSchema, io: "input" },
  inversion: { schema: inversionSchema, io: "output" },
  "inversion-list": { schema: inversionListSchema, io: "output" },
  "create-generation-request": { schema: createGenerationRequestSchema, io: "input" },
  generation: { schema: generationSchema, io: "output" },
  upload: { schema: uploadSchema, io: "output" },
  usage: { schema: usageSchema, io: "output" },
  problem: { schema: problemSchema, io: "output" },
};

/** File name (relative to schemas/) -> content. */
export function schemaFiles(): Record<string, string> {
  const files: Record<string, string> = { "openapi.json": `${JSON.stringify(openApiDocument(), null, 2)}\n` };
  for (const [name, { schema, io }] of Object.entries(JSON_SCHEMAS)) {
    const json = z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" });
    files[`${name}.schema.json`] = `${JSON.stringify({ $id: `https://dvar.invalid/schemas/${name}.schema.json`, ...json }, null, 2)}\n`;
  }
  return files;
}
