/**
 * The figures every replica's `/metrics` shares, in one statement whose every part is
 * answered from a partial index (migrations 008 to 013): no scan grows with the history of
 * runs, steps or audit rows.
 */
import type { Knex } from "knex";
import { rowsOf } from "./db.js";

export interface FleetGauges {
  activeRuns: Record<string, number>;
  finishedLastHour: Record<string, number>;
  readySteps: number;
  oldestReadySeconds: number;
  auditHeadSeq: number;
  /** Webhook deliveries pending, retrying or running. */
  deliveriesOpen: number;
  /** Webhook deliveries given up on (their error is kept in the row). */
  deliveriesDead: number;
  /** Age of the oldest delivery not yet done (0 when none). */
  oldestOpenDeliverySeconds: number;
  /** Runs whose latest state is not yet on their pull request, and those of them whose last write failed. */
  reportsDue: number;
  reportsFailing: number;
  /** Time-bound changes in force, and seconds until the next is undone (null when none). */
  timeBoundActive: number;
  nextExpirySeconds: number | null;
  /** Break-glass runs still waiting for their follow-up review. */
  openFollowUps: number;
}

export const FLEET_SQL = `
select
  (select coalesce(jsonb_object_agg(state, n), '{}'::jsonb)
     from (select state, count(*)::int as n from runs where finished_at is null group by state) a) as active_runs,
  (select coalesce(jsonb_object_agg(state, n), '{}'::jsonb)
     from (select state, count(*)::int as n from runs
            where finished_at is not null and finished_at > now() - interval '1 hour' group by state) f) as finished,
  (select count(*)::int from steps where lease_owner is null and state = 'ready') as ready_steps,
  (select coalesce(extract(epoch from now() - min(run_at)), 0)::float8
     from steps where lease_owner is null and state = 'ready' and run_at <= now()) as oldest_ready,
  (select seq from audit_head where id = 1)::bigint as audit_seq,
  (select count(*)::int from webhook_deliveries where state in ('pending', 'running')) as deliveries_open,
  (select count(*)::int from webhook_deliveries where state = 'dead') as deliveries_dead,
  (select coalesce(extract(epoch from now() - min(received_at)), 0)::float8
     from webhook_deliveries where state in ('pending', 'running')) as oldest_delivery,
  (select count(*)::int from run_reports where wanted_seq > published_seq) as reports_due,
  (select count(*)::int from run_reports where wanted_seq > published_seq and failures > 0) as reports_failing,
  (select count(*)::int from run_expiries e join runs r on r.id = e.run_id where e.fired_at is null and r.state = 'succeeded') as time_bound,
  (select extract(epoch from min(e.expires_at) - now())::float8 from run_expiries e join runs r on r.id = e.run_id
     where e.fired_at is null and r.state = 'succeeded') as next_expiry,
  (select count(*)::int from runs where followed_up_at is null and (identity->>'breakGlass') = 'true') as open_follow_ups`;

export async function readFleetGauges(db: Knex): Promise<FleetGauges> {
  const row = rowsOf<{ active_runs: Record<string, number>; finished: Record<string, number>; ready_steps: number; oldest_ready: number; audit_seq: string; deliveries_open: number; deliveries_dead: number; oldest_delivery: number;
    reports_due: number; reports_failing: number; time_bound: number; next_expiry: number | null; open_follow_ups: number }>(await db.raw(FLEET_SQL))[0]!;
  return {
    activeRuns: row.active_runs,
    finishedLastHour: row.finished,
    readySteps: row.ready_steps,
    oldestReadySeconds: Math.max(0, Number(row.oldest_ready)),
    auditHeadSeq: Number(row.audit_seq),
    deliveriesOpen: row.deliveries_open,
    deliveriesDead: row.deliveries_dead,
    oldestOpenDeliverySeconds: Math.max(0, Number(row.oldest_delivery)),
    reportsDue: row.reports_due,
    reportsFailing: row.reports_failing,
    timeBoundActive: row.time_bound,
    nextExpirySeconds: row.next_expiry === null ? null : Math.max(0, Number(row.next_expiry)),
    openFollowUps: row.open_follow_ups,
  };
}
