/** The workflow run each dispatch step started, and the lookups the HTTP API authorizes with. */
import type { Store } from "./db.js";
import { rowsOf } from "./db.js";

export interface WorkflowDispatchRecord {
  runId: string;
  stepId: string;
  repository: string;
  workflowRunId: number;
}

export async function recordWorkflowDispatch(store: Store, d: WorkflowDispatchRecord): Promise<void> {
  await store.db.raw(
    `insert into workflow_dispatches (run_id, step_id, repository, workflow_run_id) values (?, ?, ?, ?)
     on conflict (run_id, step_id) do update set repository = excluded.repository, workflow_run_id = excluded.workflow_run_id, dispatched_at = now()`,
    [d.runId, d.stepId, d.repository, d.workflowRunId],
  );
}

/** An accepted callback of the step's workflow run: its status, for the step to wake on. */
export async function noteDispatchCallback(store: Store, runId: string, stepId: string, workflowRunId: number | undefined, status: string): Promise<void> {
  await store.db.raw(
    "update workflow_dispatches set callback_at = now(), callback_status = ? where run_id = ? and step_id = ? and (?::bigint is null or workflow_run_id = ?::bigint)",
    [status.slice(0, 100), runId, stepId, workflowRunId ?? null, workflowRunId ?? null],
  );
}

/** The callback the step's workflow run sent since it was dispatched, if any. */
export async function dispatchCallback(store: Store, runId: string, stepId: string): Promise<{ status: string; at: Date } | null> {
  const row = rowsOf<{ callback_status: string | null; callback_at: string | null }>(
    await store.db.raw("select callback_status, callback_at from workflow_dispatches where run_id = ? and step_id = ? and callback_at >= dispatched_at", [runId, stepId]),
  )[0];
  return row?.callback_at ? { status: row.callback_status ?? "", at: new Date(row.callback_at) } : null;
}

/** The step's dispatch; `step: false` when the run has no such step at all. */
export async function findWorkflowDispatch(store: Store, runId: string, stepId: string): Promise<{ step: boolean; dispatch?: WorkflowDispatchRecord }> {
  const row = rowsOf<{ repository: string | null; workflow_run_id: string | number | null }>(
    await store.db.raw(
      `select d.repository, d.workflow_run_id from steps s
       left join workflow_dispatches d on d.run_id = s.run_id and d.step_id = s.step_id
       where s.run_id = ? and s.step_id = ?`,
      [runId, stepId],
    ),
  )[0];
  if (!row) return { step: false };
  if (row.repository === null || row.workflow_run_id === null) return { step: true };
  return { step: true, dispatch: { runId, stepId, repository: row.repository, workflowRunId: Number(row.workflow_run_id) } };
}

/** The ops repository a run belongs to (`owner/name`), or undefined when there is no such run. */
export async function runRepository(store: Store, runId: string): Promise<string | undefined> {
  const row = rowsOf<{ repository: string | null }>(await store.db.raw("select identity->>'repository' as repository from runs where id = ?", [runId]))[0];
  return row ? (row.repository ?? "") : undefined;
}
