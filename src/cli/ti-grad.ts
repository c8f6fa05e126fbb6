/**
 * `dvar ti-grad`: one textual-inversion loss and gradient for a pipeline folder and
 * tensors from a safetensors file. The way to check the compiler on any model.
 */
import * as fs from "node:fs";
import { decodeSafetensors, encodeSafetensors, type Tensor } from "../core/io/safetensors.js";
import { TextualInversionRunner, type TiInputs } from "../runtime/textual-inversion.js";
import { CliUsageError, type Subcommand, parseFlags } from "./command.js";

const HELP = `Usage: dvar ti-grad --model DIR --inputs IN.safetensors --out OUT.safetensors [options]

Computes the textual-inversion loss (mean squared error of the UNet's noise prediction)
and its gradient with respect to the learned vectors, through graphs compiled from the
pipeline's ONNX text encoder and UNet.

  --model DIR        Stable Diffusion pipeline in the Optimum ONNX layout
  --inputs FILE      safetensors with input_ids [B,L] (I32/I64; id V+j = concept j),
                     concept [k,H] (F32), noisy_latents [B,C,h,w] (F32),
                     timesteps [B] (I32/I64/F32/F64), target [B,C,h,w] (F32)
  --out FILE         writes loss [] and grad [k,H] (F32)
  --threads N        onnxruntime intra-op threads (default: all cores)
  --cache-dir DIR    where compiled graphs are cached (default ~/.cache/dvar/compiled)
  --no-cache         compile in memory only`;

function tensor(tensors: Record<string, Tensor>, name: string, dtypes: string[]): Tensor {
  const t = tensors[name];
  if (!t) throw new CliUsageError(`--inputs has no tensor '${name}'`);
  if (!dtypes.includes(t.dtype)) throw new CliUsageError(`tensor '${name}' is ${t.dtype}, expected ${dtypes.join(" or ")}`);
  return t;
}

function toF32(t: Tensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array);
}

export function readTiInputs(bytes: Uint8Array): TiInputs {
  const t = decodeSafetensors(bytes).tensors;
  const ids = tensor(t, "input_ids", ["I32", "I64"]);
  const steps = tensor(t, "timesteps", ["I32", "I64", "F32", "F64"]);
  const f = (name: string) => {
    const x = tensor(t, name, ["F32", "F64"]);
    return { data: toF32(x), dims: x.shape };
  };
  return {
    inputIds: { data: ids.data as Int32Array | BigInt64Array, dims: ids.shape },
    concept: f("concept"),
    noisyLatents: f("noisy_latents"),
    timesteps: { data: steps.data as Int32Array | BigInt64Array | Float32Array | Float64Array, dims: steps.shape },
    target: f("target"),
  };
}

export const tiGradCommand: Subcommand = {
  name: "ti-grad",
  summary: "textual-inversion loss and gradient for an ONNX pipeline (checks the compiler)",
  async run(argv) {
    const values = parseFlags(argv, {
          model: { type: "string" }, inputs: { type: "string" }, out: { type: "string" },
          threads: { type: "string" }, "cache-dir": { type: "string" }, "no-cache": { type: "boolean" }, help: { type: "boolean", short: "h" },
        });
    if (values.help) {
      process.stdout.write(HELP + "\n");
      return 0;
    }
    for (const flag of ["model", "inputs", "out"] as const) if (!values[flag]) throw new CliUsageError(`--${flag} is required\n\n${HELP}`);
    const threads = values.threads === undefined ? 0 : Number(values.threads);
    if (!Number.isInteger(threads) || threads < 0) throw new CliUsageError(`--threads must be a non-negative integer, got '${values.threads}'`);
    const inputs = readTiInputs(fs.readFileSync(values.inputs!));
    const runner = new TextualInversionRunner(values.model!, { threads, cacheDir: values["no-cache"] ? null : (values["cache-dir"] ?? undefined) });
    try {
      const { loss, grad } = await runner.step(inputs);
      const out = encodeSafetensors({
        loss: { dtype: "F32", shape: [], data: Float32Array.of(loss) },
        grad: { dtype: "F32", shape: inputs.concept.dims, data: grad },
      });
      fs.writeFileSync(values.out!, out);
      process.stdout.write(`loss ${loss}\ngrad [${inputs.concept.dims.join(", ")}] written to ${values.out}\n`);
      return 0;
    } finally {
      await runner.close();
    }
  },
};
