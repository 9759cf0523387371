/**
 * The worst request and workflow shapes a PR author can send under the 1 MiB limit,
 * shared by the hostile-input tests and `npm run bench:hostile`.
 */
import type { WorkflowSpec } from "../../src/formats/index.js";

const HEAD = "apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: hostile\nreason: OPS-1234 hostile input\n";

/** A request that begins with `n` comment lines (the empty-file check used to be exponential in them). */
export function commentedRequest(n: number): string {
  return "# OPS-1234 see runbook\n".repeat(n) + HEAD + "params: { value: ok }\n";
}

/** A request whose params hold `n` distinct keys (~832 KB at 80,000). */
export function manyKeysRequest(n: number): string {
  const lines: string[] = [HEAD, "params:\n"];
  for (let i = 0; i < n; i++) lines.push(`  k${i}: v\n`);
  return lines.join("");
}

/** A request whose params repeat one key `n` times: every repeat is a duplicate-key problem. */
export function duplicateKeysRequest(n: number): string {
  return HEAD + "params:\n" + "  k: v\n".repeat(n);
}

/** A request nested `depth` levels under params, in flow style. */
export function deepRequest(depth: number): string {
  return HEAD + "params: { value: " + "[".repeat(depth) + "]".repeat(depth) + " }\n";
}

/** A request with one param value of `chars` characters on one line. */
export function longLineRequest(chars: number, fill = "a"): string {
  return HEAD + `params: { value: "${fill.repeat(chars)}!" }\n`;
}

/** A workflow whose one param must match `pattern` and admits no other keys. */
export function workflowWithPattern(pattern: string): WorkflowSpec {
  return {
    apiVersion: "clutch-luigi/v1",
    kind: "Workflow",
    name: "hostile",
    params: { type: "object", additionalProperties: false, properties: { value: { type: "string", pattern } } },
    steps: [],
  } as unknown as WorkflowSpec;
}
