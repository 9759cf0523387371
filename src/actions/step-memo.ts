/**
 * `services.stepMemo`: a durable note a step writes before it changes anything (first
 * write wins), read back by its later attempts — possibly on another worker after a
 * crash. Workers built with a store provide it; without one, actions fall back to what
 * they can observe.
 */
import type { StepContext } from "./types.js";

export interface StepMemoService {
  /** Keep `value` unless this step already has a memo; returns the memo that holds. */
  remember(runId: string, stepId: string, value: unknown): Promise<unknown>;
  recall(runId: string, stepId: string): Promise<unknown>;
}

function memoOf(ctx: StepContext): StepMemoService | undefined {
  const m = ctx.services.stepMemo as StepMemoService | undefined;
  return m && typeof m.remember === "function" && typeof m.recall === "function" ? m : undefined;
}

export async function recallMemo(ctx: StepContext): Promise<unknown> {
  return memoOf(ctx)?.recall(ctx.identity.runId, ctx.identity.stepId);
}

/** With no memo service, the value itself (nothing durable to consult). */
export async function rememberMemo(ctx: StepContext, value: unknown): Promise<unknown> {
  const m = memoOf(ctx);
  return m ? m.remember(ctx.identity.runId, ctx.identity.stepId, value) : value;
}
