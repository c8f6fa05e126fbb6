/**
 * Child-process entry of `dvar evaluate --jobs N`: receives one concept over IPC, runs
 * its study (writing the concept's files), exits 0, or 1 with the error on stderr.
 */
import { studyConcept } from "./concept-study.js";
import type { ConceptInput, StudySettings } from "./study-settings.js";

export interface WorkerTask {
  concept: ConceptInput;
  settings: StudySettings;
  out: string;
}

process.once("message", (task: WorkerTask) => {
  studyConcept(task.concept, task.settings, task.out, (line) => process.stderr.write(line + "\n"))
    .then(() => {
      process.exitCode = 0;
    })
    .catch((error: unknown) => {
      process.stderr.write(`${task.concept.name}: failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    })
    .finally(() => process.disconnect());
});
