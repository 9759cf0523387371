/**
 * A step that a report promotes is claimed in the same transaction by the worker that
 * reported, as cl_report means it to be ("this batch's runs first"). Migration 015
 * stamped a promoted step's run_at with clock_timestamp(), which is later than the
 * transaction's now() that the claim compares run_at with; so the step became
 * claimable only after the commit, by whichever worker asked next. In a chain the
 * next step then usually went to the other worker, which loaded the run again and
 * started it tens of milliseconds later. Promoting now stamps run_at with now() when
 * there is no `after:` timer (ready_at, which latency is measured from, keeps the
 * clock). 015's two promoting functions are re-created with only that change.
 */
import type { Knex } from "knex";
import { transitionFunction } from "./015_transitions.js";

const PROMOTERS = ["cl_promote_events(p_run uuid", "cl_report_events(p_worker text"];
const STAMP = /run_at = (case when d\.step_id is null then t\.run_at else )?clock_timestamp\(\) \+ (\w)\.after_ms \* interval '1 millisecond'/g;

function promoters(): string[] {
  return PROMOTERS.map((sig) => transitionFunction(sig));
}

function stampedNow(sql: string): string {
  let n = 0;
  const out = sql.replace(STAMP, (_m, join: string | undefined, t: string) => {
    n++;
    return `run_at = ${join ?? ""}case when ${t}.after_ms > 0 then clock_timestamp() + ${t}.after_ms * interval '1 millisecond' else now() end`;
  });
  if (n !== 1) throw new Error(`expected one promotion's run_at in each function, found ${n}`);
  return out;
}

/** A promoting function as this migration left it (`signature` as in PROMOTERS), for a later migration's down(). */
export function promoterAsOf017(signature: string): string {
  if (!PROMOTERS.includes(signature)) throw new Error(`migration 017 did not re-create ${signature}`);
  return stampedNow(transitionFunction(signature));
}

export async function up(knex: Knex): Promise<void> {
  for (const signature of PROMOTERS) await knex.raw(promoterAsOf017(signature));
}

export async function down(knex: Knex): Promise<void> {
  for (const sql of promoters()) await knex.raw(sql);
}
