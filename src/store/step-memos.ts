/**
 * Step memos: one small JSON value per (run, step), first write wins. An action
 * records what it found before it changes anything; every later attempt of the step,
 * on any worker, reads that instead of what its own earlier attempt left behind.
 */
import { rowsOf, type Store } from "./db.js";

/** A memo is a few fields; anything larger is a bug, not data to keep. */
export const MAX_MEMO_BYTES = 4_096;

export class StepMemoTooLargeError extends Error {
  constructor(bytes: number) {
    super(`a step memo is limited to ${MAX_MEMO_BYTES} bytes, got ${bytes}`);
    this.name = "StepMemoTooLargeError";
  }
}

/** Stores `value` unless the step already has a memo; returns the memo that holds. */
export async function rememberStepMemo(store: Store, runId: string, stepId: string, value: unknown): Promise<unknown> {
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > MAX_MEMO_BYTES) throw new StepMemoTooLargeError(Buffer.byteLength(text));
  await store.db.raw("insert into step_memos (run_id, step_id, value) values (?, ?, ?::jsonb) on conflict (run_id, step_id) do nothing", [runId, stepId, text]);
  return recallStepMemo(store, runId, stepId);
}

export async function recallStepMemo(store: Store, runId: string, stepId: string): Promise<unknown> {
  const row = rowsOf<{ value: unknown }>(await store.db.raw("select value from step_memos where run_id = ? and step_id = ?", [runId, stepId]))[0];
  if (!row) return undefined;
  // PGlite and pg both parse jsonb; a driver that hands back text is parsed here.
  return typeof row.value === "string" ? JSON.parse(row.value) : row.value;
}
