/**
 * Inputs are checked again at run time, after substitution: validation saw
 * `${{ steps.x.outputs.y }}` as a placeholder, and only now is its value known. An
 * action must never be handed input its schema refuses.
 */
import { ActionError, type Action } from "../actions/types.js";
import { checkAgainstSchema } from "../formats/schema-check.js";

export function assertActionInput(action: Action, input: unknown): void {
  const issues = checkAgainstSchema(action.input, input, { root: "with" });
  if (issues.length > 0) {
    throw new ActionError("invalid-input", `${action.name} refused its input: ${issues.map((i) => i.message).join("; ")}`);
  }
}
