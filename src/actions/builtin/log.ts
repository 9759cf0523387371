import type { Action } from "../types.js";

export interface LogInput {
  message: string;
  level?: "info" | "warn" | "error";
}

export const log: Action<LogInput, { message: string }> = {
  name: "log",
  description: "Writes a message to the run's log and echoes it as an output.",
  input: {
    type: "object",
    additionalProperties: false,
    required: ["message"],
    properties: {
      message: { type: "string", maxLength: 10_000 },
      level: { enum: ["info", "warn", "error"] },
    },
  },
  output: { type: "object", additionalProperties: false, properties: { message: { type: "string" } }, required: ["message"] },
  async run(input, ctx) {
    ctx.log[input.level ?? "info"](input.message);
    return { message: input.message };
  },
};
