/**
 * The `dvar-tiny-sd` preset is the study's calibration, not a number typed by hand: it must
 * equal the N and alpha that `dvar evaluate --tuning` chose in the committed study
 * (docs/study/study.json), made on the model that is shipped (same fingerprint).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CRITERION_PRESETS } from "../../../src/core/stopping/index.js";
import type { StudyReport } from "../../../src/engine/evaluation/study-report.js";
import { modelFingerprint, openModelFolder } from "../../../src/engine/model/folder.js";

const study = JSON.parse(readFileSync("docs/study/study.json", "utf8")) as StudyReport;

describe("the dvar-tiny-sd preset", () => {
  it("is the committed study's calibrated choice", () => {
    const chosen = study.calibration?.chosen;
    expect(chosen).toBeTruthy();
    expect(CRITERION_PRESETS["dvar-tiny-sd"]).toEqual({ name: "dvar", window: chosen!.window, threshold: chosen!.threshold, every: 1 });
    // in-sample (the tuning concepts it was fitted on) and out of sample (the held-out ones)
    expect(study.acceptance.pass).toBe(true);
    expect(study.calibration!.heldOut.length).toBeGreaterThan(0);
    expect(study.heldOutAcceptance?.pass).toBe(true);
  });

  it("was calibrated on the shipped model", () => {
    expect(study.settings.modelFingerprint).toBe(modelFingerprint(openModelFolder("models/tiny-sd")));
  });
});
