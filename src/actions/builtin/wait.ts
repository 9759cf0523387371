import { DURATION_PATTERN, parseDuration } from "../../formats/duration.js";
import { ActionError, type Action } from "../types.js";

export interface WaitInput {
  /** How long to wait, e.g. `4h`, `7d`. */
  duration?: string;
  /** Wait until this instant (RFC 3339). A past instant waits 0. */
  until?: string;
}

/** Longest durable wait accepted: a typo of `400d` for `4d` should fail validation-time, not sleep a year. */
export const MAX_WAIT_MS = 90 * 86_400_000;

export function waitDelayMs(input: WaitInput, now: number = Date.now()): number {
  if ((input.duration === undefined) === (input.until === undefined)) {
    throw new ActionError("invalid-input", "wait takes exactly one of `duration` or `until`");
  }
  let ms: number;
  if (input.duration !== undefined) ms = parseDuration(input.duration);
  else {
    const t = Date.parse(input.until!);
    if (Number.isNaN(t)) throw new ActionError("invalid-input", `wait: "${input.until}" is not a date-time`);
    ms = Math.max(0, t - now);
  }
  if (ms > MAX_WAIT_MS) throw new ActionError("invalid-input", `wait: ${ms}ms is longer than the 90-day maximum`);
  return ms;
}

/**
 * A durable delay. The engine reads `delayMs` and parks the step on a timer stored in
 * Postgres, so the wait survives restarts and holds no worker; `run` is a no-op kept
 * for runners without timers.
 */
export const wait: Action<WaitInput, Record<string, never>> = {
  name: "wait",
  description: "Waits durably for a duration or until an instant (survives restarts; holds no worker).",
  input: {
    type: "object",
    additionalProperties: false,
    oneOf: [{ required: ["duration"] }, { required: ["until"] }],
    properties: {
      duration: { type: "string", pattern: DURATION_PATTERN },
      until: { type: "string", format: "date-time" },
    },
  },
  output: { type: "object", additionalProperties: false, properties: {} },
  delayMs: (input) => waitDelayMs(input),
  async run() {
    return {};
  },
};
