import { ActionError, type Action } from "../types.js";

export interface FailInput {
  message?: string;
  /** Error class to fail with, so retry conditions can be exercised (default `error`). */
  code?: string;
  /** Fail only the first N attempts, then succeed. Omit to always fail. */
  times?: number;
}

export const fail: Action<FailInput, { attempt: number }> = {
  name: "fail",
  description: "Fails with a given error class, optionally only for the first N attempts. For tests and drills.",
  input: {
    type: "object",
    additionalProperties: false,
    properties: {
      message: { type: "string" },
      code: { type: "string", pattern: "^[a-z][a-z0-9-]*$" },
      times: { type: "integer", minimum: 0 },
    },
  },
  output: { type: "object", additionalProperties: false, properties: { attempt: { type: "integer" } }, required: ["attempt"] },
  async run(input, ctx) {
    const attempt = ctx.identity.attempt;
    if (input.times !== undefined && attempt > input.times) return { attempt };
    throw new ActionError(input.code ?? "error", input.message ?? `failed on purpose (attempt ${attempt})`);
  },
};
