/**
 * What an action returned, made fit to record: refused unless the store can hold it,
 * and with the names of the outputs that must be stored sealed.
 */
import { ActionError, type Action } from "../actions/types.js";
import type { SecretsSeen } from "./context.js";
import { MAX_OUTPUT_BYTES, jsonProblem } from "../store/storable.js";

/**
 * An action's outputs, refused with class `invalid-output` unless they are an object
 * the store can hold. Caught here, the step fails once with a clear reason; caught by
 * the database, the result could never be recorded and the step would run again.
 */
export function checkedOutputs(action: Action, out: unknown, from: string): Record<string, unknown> {
  if (out === undefined || out === null) return {};
  if (typeof out !== "object" || Array.isArray(out)) {
    throw new ActionError("invalid-output", `${action.name} ${from} returned ${Array.isArray(out) ? "an array" : `a ${typeof out}`}; outputs are an object of named values`);
  }
  const problem = jsonProblem(out);
  if (problem) throw new ActionError("invalid-output", `${action.name} ${from} returned outputs that cannot be stored: ${problem.replace(/^"/, 'output "')}`);
  const size = Buffer.byteLength(JSON.stringify(out));
  if (size > MAX_OUTPUT_BYTES) {
    throw new ActionError("invalid-output", `${action.name} ${from} returned ${size} bytes of outputs; the limit is ${MAX_OUTPUT_BYTES}`);
  }
  return out as Record<string, unknown>;
}

/** The outputs to store sealed: those the action declares secret, and any that carry a secret seen in this attempt. */
export function secretNames(action: Action, outputs: Record<string, unknown>, secrets: SecretsSeen): string[] {
  const names = new Set(action.secretOutputs ?? []);
  // An output that merely *contains* a secret (a log line echoing a password, a JSON
  // body that carries it) is as secret as the value itself: it is stored sealed.
  const known = [...secrets].filter((x) => x.length > 0);
  for (const [k, v] of Object.entries(outputs)) {
    if (v === undefined || v === null) continue;
    const text = typeof v === "string" ? v : JSON.stringify(v);
    if (known.some((x) => text.includes(x))) names.add(k);
  }
  return [...names].filter((n) => n in outputs);
}
