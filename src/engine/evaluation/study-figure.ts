/**
 * The paper's Figure 1 for one concept: training loss, gradient norm, score and L_det per
 * step, with where each method stops marked. (Figure 5, the ablation: one panel per
 * variant.) Drawn with the history plot's panel code.
 */
import { panelsPlotSvg, type PlotMark } from "../report/index.js";
import type { ConceptRecord } from "./concept-study.js";

export function conceptFigureSvg(r: ConceptRecord): string {
  // Step 0 carries the initializer's score; the per-update series start at step 1.
  const steps = Array.from({ length: r.steps + 1 }, (_, i) => i);
  const score: (number | null)[] = steps.map(() => null);
  r.scores.step.forEach((s, i) => (score[s] = r.scores.score[i]!));
  const perUpdate = (values: number[]) => [null, ...values];
  const marks: PlotMark[] = [];
  if (r.stops.dvar !== null) marks.push({ step: r.stops.dvar, label: `DVAR @ ${r.stops.dvar}`, color: "#2ca02c" });
  if (r.stops["dvar-paper"] !== null) marks.push({ step: r.stops["dvar-paper"], label: `DVAR (paper) @ ${r.stops["dvar-paper"]}`, color: "#17becf" });
  if (r.stops.clipS !== null) marks.push({ step: r.stops.clipS, label: `CLIP-s @ ${r.stops.clipS}`, color: "#ff7f0e" });
  marks.push({ step: r.methods.baseline.bestStep!, label: `baseline best @ ${r.methods.baseline.bestStep}`, color: "#9467bd" });
  return panelsPlotSvg(
    steps,
    [
      { key: "train_loss", title: "training loss", values: perUpdate(r.series.trainLoss) },
      { key: "grad_norm", title: "gradient norm of the learned vectors", values: perUpdate(r.series.gradNorm) },
      { key: "score", title: "score (image scorer; step 0: the initializer word)", values: score, connectGaps: true },
      { key: "l_det", title: "L_det (deterministic eval loss)", values: perUpdate(r.series.ldet) },
    ],
    marks,
    { title: `${r.token} (initializer ${r.initializer})` },
  );
}

export function ablationFigureSvg(r: ConceptRecord): string {
  const a = r.ablation!;
  const steps = Array.from({ length: a.steps }, (_, i) => i + 1);
  const names: Record<string, string> = {
    none: "L_det (nothing redrawn)",
    timesteps: "timesteps redrawn each step",
    noise: "noise redrawn each step",
    latents: "latent samples redrawn each step",
    data: "images and captions redrawn each step",
  };
  const panels = Object.entries(a.series).map(([key, values]) => ({ key, title: names[key] ?? key, values: values! }));
  return panelsPlotSvg(steps, panels, [], { title: `${r.token}: evaluation loss with one source of randomness redrawn (paper, Figure 5)` });
}
