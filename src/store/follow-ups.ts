/**
 * Break-glass runs still waiting for their follow-up review (migration 013's partial
 * index keeps the read proportional to how many are open, not to the history).
 */
import type { Knex } from "knex";
import { rowsOf } from "./db.js";

export interface OpenFollowUp {
  runId: string;
  workflow: string;
  requestPath: string;
  repository: string;
  pullRequest: number | null;
  requester: string;
  state: string;
  createdAt: Date;
}

export async function openFollowUps(db: Knex | Knex.Transaction, limit = 1_000): Promise<OpenFollowUp[]> {
  const rows = rowsOf<{ id: string; workflow: string; request_path: string; identity: unknown; state: string; created_at: string }>(
    await db.raw(
      "select id, workflow, request_path, identity, state, created_at from runs where followed_up_at is null and (identity->>'breakGlass') = 'true' order by created_at limit ?",
      [limit],
    ),
  );
  return rows.map((r) => {
    const identity = (typeof r.identity === "string" ? JSON.parse(r.identity) : r.identity) as { repository: string; pullRequest?: number; requester: { login: string } };
    return {
      runId: r.id,
      workflow: r.workflow,
      requestPath: r.request_path,
      repository: identity.repository,
      pullRequest: identity.pullRequest ?? null,
      requester: identity.requester.login,
      state: r.state,
      createdAt: new Date(r.created_at),
    };
  });
}
