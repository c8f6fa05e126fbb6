/**
 * Loads an A1111 `.pt` embedding with PyTorch itself, in a child /usr/bin/python3 (Debian's
 * python3-torch). .ci/run installs it; where it is missing (a developer machine) tests using
 * this skip, loudly: put TORCH_SKIP_NOTE in the describe title. Under CI=true a missing torch
 * is an error, as Ceph and Chromium are, so CI never passes by skipping them.
 */
import { execFileSync, spawnSync } from "node:child_process";

export const HAS_TORCH = spawnSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" }).status === 0;
if (!HAS_TORCH && process.env.CI === "true") throw new Error("CI=true but /usr/bin/python3 cannot import torch: install Debian's python3-torch (.ci/run does)");
export const TORCH_SKIP_NOTE = HAS_TORCH ? "" : " (SKIPPED: /usr/bin/python3 with torch not found)";

/** What torch.load returned, as JSON: the dict's keys and fields, and the tensor's dtype, shape and values (as doubles). */
export interface TorchLoadedPt {
  type: string;
  keys: string[];
  string_to_token: Record<string, number>;
  name: string;
  step: number | null;
  sd_checkpoint: unknown;
  sd_checkpoint_name: unknown;
  dtype: string;
  shape: number[];
  contiguous: boolean;
  values: number[];
}

const SCRIPT = `import json, pickletools, re, sys, zipfile, torch
# What A1111's safe loader checks before torch.load: entry names and the pickle's globals.
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
bad = [n for n in z.namelist() if not re.match(r"^[^/]+/(data/[0-9]+|version|data[.]pkl)$", n)]
assert not bad, bad
pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
globs = {a.replace(" ", ".") for op, a, _ in pickletools.genops(z.read(pkl)) if op.name == "GLOBAL"}
assert globs <= {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"}, globs
d = torch.load(sys.argv[1], map_location="cpu")
v = d["string_to_param"]["*"]
print(json.dumps({"type": type(d).__name__, "keys": list(d.keys()), "string_to_token": d["string_to_token"], "name": d["name"], "step": d["step"],
  "sd_checkpoint": d["sd_checkpoint"], "sd_checkpoint_name": d["sd_checkpoint_name"], "dtype": str(v.dtype), "shape": list(v.shape),
  "contiguous": v.is_contiguous(), "values": v.double().flatten().tolist()}))`;

/** torch.load of the file at `path` after A1111's safe-loader checks; throws if python fails. */
export function torchLoadA1111Pt(path: string): TorchLoadedPt {
  const stdout = execFileSync("/usr/bin/python3", ["-c", SCRIPT, path], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1", OMP_WAIT_POLICY: "PASSIVE" } });
  return JSON.parse(stdout) as TorchLoadedPt;
}
