import { DURATION_PATTERN, parseDuration } from "../../formats/duration.js";
import { ActionError, type Action } from "../types.js";

/**
 * An in-process sleep that honours the abort signal. For delays that must survive
 * restarts (hours, days), use `wait`, which the engine turns into a durable timer.
 */
export const MAX_SLEEP_MS = 3_600_000;

export const sleep: Action<{ duration: string }, { sleptMs: number }> = {
  name: "sleep",
  description: "Sleeps in the worker for a short duration, aborting on timeout or cancel.",
  input: {
    type: "object",
    additionalProperties: false,
    required: ["duration"],
    properties: { duration: { type: "string", pattern: DURATION_PATTERN } },
  },
  output: { type: "object", additionalProperties: false, properties: { sleptMs: { type: "integer" } }, required: ["sleptMs"] },
  errorCodes: ["invalid-input"],
  run(input, ctx) {
    const ms = parseDuration(input.duration);
    // Past 2^31-1 ms a Node timer fires at once; long before that, a worker restart loses it.
    if (!(ms <= MAX_SLEEP_MS)) {
      return Promise.reject(new ActionError("invalid-input", `sleep ${input.duration} is longer than 1h; use the wait action, a durable timer`));
    }
    return new Promise((resolve, reject) => {
      if (ctx.signal.aborted) return reject(new ActionError("timeout", "aborted before sleeping"));
      const timer = setTimeout(() => {
        ctx.signal.removeEventListener("abort", onAbort);
        resolve({ sleptMs: ms });
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new ActionError("timeout", `sleep aborted: ${String(ctx.signal.reason ?? "aborted")}`));
      };
      ctx.signal.addEventListener("abort", onAbort, { once: true });
    });
  },
};
