/**
 * The terms of a time-bound run: how long after it succeeds its steps are undone,
 * and the longest any extension may keep them. Pure: the plan shows them, the
 * request check refuses a duration over the maximum, and the engine sets its timer
 * from the same numbers.
 */
import { parseDuration } from "./duration.js";
import type { ExpiresSpec, WorkflowSpec } from "./types.js";

export interface ExpiryTerms {
  durationMs: number;
  maxMs: number;
  /** Where the duration came from: the request's param, or the workflow's default. */
  source: { param: string } | { default: true };
}

export class ExpiryError extends Error {
  constructor(
    message: string,
    /** The param to point at, when the request's own value is wrong. */
    readonly param?: string,
  ) {
    super(message);
    this.name = "ExpiryError";
  }
}

function ms(text: unknown, what: string, param?: string): number {
  if (typeof text !== "string") throw new ExpiryError(`${what} must be a duration such as 30m, 4h or 1d`, param);
  try {
    return parseDuration(text);
  } catch (e) {
    throw new ExpiryError(`${what}: ${(e as Error).message}`, param);
  }
}

/** Problems with the workflow's own `expires:` (not the request's choice). */
export function expiresProblems(e: ExpiresSpec, declaredParams: readonly string[] | undefined): string[] {
  const out: string[] = [];
  try {
    const after = ms(e.after, "expires.after");
    const max = ms(e.max, "expires.max");
    if (after <= 0) out.push("expires.after must be longer than 0");
    if (after > max) out.push(`expires.after (${e.after}) is longer than expires.max (${e.max})`);
  } catch {
    // Not a duration: the schema has said so on the exact line already.
  }
  if (e.param !== undefined && !(declaredParams ?? []).includes(e.param)) out.push(`expires.param names "${e.param}", which is not one of the workflow's params`);
  return out;
}

/** The request's terms, or null for a workflow that does not expire. Throws ExpiryError for a duration it may not ask for. */
export function expiryTerms(workflow: Pick<WorkflowSpec, "expires">, params: Record<string, unknown>): ExpiryTerms | null {
  const e = workflow.expires;
  if (!e) return null;
  const maxMs = ms(e.max, "expires.max");
  const chosen = e.param !== undefined && params[e.param] !== undefined;
  const durationMs = chosen ? ms(params[e.param!], `params.${e.param}`, e.param) : ms(e.after, "expires.after");
  if (durationMs <= 0) throw new ExpiryError(`the duration must be longer than 0`, chosen ? e.param : undefined);
  if (durationMs > maxMs) throw new ExpiryError(`${chosen ? String(params[e.param!]) : e.after} is longer than this workflow allows (expires.max: ${e.max})`, chosen ? e.param : undefined);
  return { durationMs, maxMs, source: chosen ? { param: e.param! } : { default: true } };
}
