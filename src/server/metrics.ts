/**
 * `/metrics` in the Prometheus text format. Every figure is read from Postgres at
 * scrape time: replicas share no memory, so only the database can say how many runs
 * wait or fail across the fleet.
 */
import type { Knex } from "knex";
import { rowsOf } from "../store/db.js";

const esc = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export async function renderMetrics(db: Knex): Promise<string> {
  const [runs, steps, attempts, audit] = await Promise.all([
    db.raw("select state, count(*)::int as n from runs group by state order by state"),
    db.raw("select state, count(*)::int as n from steps group by state order by state"),
    db.raw("select outcome, coalesce(error_class, '') as error_class, count(*)::int as n from attempts group by 1, 2 order by 1, 2"),
    db.raw("select coalesce(max(seq), 0)::bigint as seq from audit_events"),
  ]);
  const out: string[] = [];
  const gauge = (name: string, help: string, rows: { labels: Record<string, string>; n: number }[]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const r of rows) {
      const labels = Object.entries(r.labels).map(([k, v]) => `${k}="${esc(v)}"`).join(",");
      out.push(`${name}${labels ? `{${labels}}` : ""} ${r.n}`);
    }
  };
  gauge("clutch_luigi_runs", "Runs by state.", rowsOf<{ state: string; n: number }>(runs).map((r) => ({ labels: { state: r.state }, n: r.n })));
  gauge("clutch_luigi_steps", "Steps of all runs by state.", rowsOf<{ state: string; n: number }>(steps).map((r) => ({ labels: { state: r.state }, n: r.n })));
  gauge(
    "clutch_luigi_attempts",
    "Step attempts by outcome and error class.",
    rowsOf<{ outcome: string; error_class: string; n: number }>(attempts).map((r) => ({ labels: { outcome: r.outcome, error_class: r.error_class }, n: r.n })),
  );
  gauge("clutch_luigi_audit_head_seq", "Sequence number of the newest audit row.", [{ labels: {}, n: Number(rowsOf<{ seq: string }>(audit)[0]?.seq ?? 0) }]);
  return out.join("\n") + "\n";
}
