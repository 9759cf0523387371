/**
 * The number of steps is bounded before a workflow's graph is analysed: the
 * analysis keeps, for every step, the set of steps it depends on, which for a
 * chain of n steps is n²/2 entries (a 1 MiB workflow of 25,000 chained steps
 * exhausted the heap). The schema says the same; this check runs first.
 */
import type { Problem } from "./problems.js";
import type { SourceDoc } from "./source.js";

export const MAX_STEPS = 1_000;

/** The problem with a workflow that has more steps than MAX_STEPS, if it has. */
export function tooManySteps(doc: SourceDoc): Problem | undefined {
  const steps = doc.value.steps;
  if (!Array.isArray(steps) || steps.length <= MAX_STEPS) return undefined;
  return doc.problem(["steps"], `steps has ${steps.length} entries; the limit is ${MAX_STEPS} steps per workflow`);
}
