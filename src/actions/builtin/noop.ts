import type { Action } from "../types.js";

export const noop: Action<Record<string, never>, Record<string, never>> = {
  name: "noop",
  description: "Does nothing. Useful as a join point in a DAG and in tests.",
  input: { type: "object", additionalProperties: false, properties: {} },
  output: { type: "object", additionalProperties: false, properties: {} },
  async run() {
    return {};
  },
};
