/** The registry: ONNX op type (default domain) -> gradient rule. */
import type { GradRule } from "../rule.js";
import { elementwiseRules } from "./elementwise.js";
import { indexingRules } from "./indexing.js";
import { linearRules } from "./linear.js";
import { normalizationRules } from "./normalization.js";
import { reductionRules } from "./reduction.js";
import { shapeRules } from "./shape.js";
import { spatialRules } from "./spatial.js";

export const GRADIENT_RULES: Readonly<Record<string, GradRule>> = {
  ...elementwiseRules,
  ...indexingRules,
  ...linearRules,
  ...normalizationRules,
  ...reductionRules,
  ...shapeRules,
  ...spatialRules,
};
