/**
 * `/metrics` with prom-client. Two kinds of figure:
 * - what this process saw (webhooks, GitHub API calls, verdicts, step durations):
 *   counters and histograms that Prometheus sums across replicas;
 * - what the fleet shares (active runs, queue depth, oldest ready step, audit head):
 *   read from Postgres by one indexed query, cached for a few seconds so that
 *   scrapes, however frequent, cost the database next to nothing.
 * Each server has its own registry: tests run several servers in one process.
 */
import type { Knex } from "knex";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { readFleetGauges, type FleetGauges } from "../store/metrics-query.js";

export interface AppMetrics {
  registry: Registry;
  webhooks: Counter<"event" | "outcome">;
  webhookSeconds: Histogram<"event">;
  githubCalls: Counter<"route" | "status">;
  githubRateLimitRemaining: Gauge<"installation">;
  verdicts: Counter<"outcome">;
  stepSeconds: Histogram<"action" | "outcome">;
  render(): Promise<string>;
  contentType: string;
}

export interface MetricsOptions {
  /** How long one read of the shared gauges is reused. */
  cacheMs?: number;
  now?: () => number;
}

export function createMetrics(db: Knex, opts: MetricsOptions = {}): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const now = opts.now ?? Date.now;
  const cacheMs = opts.cacheMs ?? 5_000;
  let cached: { at: number; value: Promise<FleetGauges> } | undefined;
  const fleet = (): Promise<FleetGauges> => {
    if (!cached || now() - cached.at >= cacheMs) {
      const value = readFleetGauges(db);
      cached = { at: now(), value };
      // A failed read is not cached: the next scrape asks again.
      value.catch(() => (cached = undefined));
    }
    return cached.value;
  };

  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (g: FleetGauges, set: Gauge<L>) => void): Gauge<L> =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        read(await fleet(), this);
      },
    });

  gauge("clutch_luigi_runs", "Runs not yet finished, by state.", ["state"], (g, m) => {
    for (const [state, n] of Object.entries(g.activeRuns)) m.set({ state }, n);
  });
  gauge("clutch_luigi_runs_finished_last_hour", "Runs that finished in the last hour, by state.", ["state"], (g, m) => {
    for (const [state, n] of Object.entries(g.finishedLastHour)) m.set({ state }, n);
  });
  gauge("clutch_luigi_queue_ready_steps", "Steps ready to be claimed by a worker.", [], (g, m) => m.set(g.readySteps));
  gauge("clutch_luigi_queue_oldest_ready_seconds", "Age of the oldest step ready and unclaimed (0 when none).", [], (g, m) => m.set(g.oldestReadySeconds));
  gauge("clutch_luigi_webhook_deliveries", "Webhook deliveries not done: open (pending, retrying or running) and dead (given up on).", ["state"], (g, m) => {
    m.set({ state: "open" }, g.deliveriesOpen);
    m.set({ state: "dead" }, g.deliveriesDead);
  });
  gauge("clutch_luigi_webhook_oldest_open_seconds", "Age of the oldest webhook delivery not yet processed (0 when none).", [], (g, m) => m.set(g.oldestOpenDeliverySeconds));
  gauge("clutch_luigi_audit_head_seq", "Sequence number of the newest audit row.", [], (g, m) => m.set(g.auditHeadSeq));
  gauge("clutch_luigi_run_reports_due", "Runs whose latest state is not yet on their pull request.", [], (g, m) => m.set(g.reportsDue));
  gauge("clutch_luigi_run_reports_failing", "Of those, runs whose last write to GitHub failed (retried with backoff).", [], (g, m) => m.set(g.reportsFailing));
  gauge("clutch_luigi_time_bound_active", "Time-bound changes in force (succeeded, expiry not yet fired).", [], (g, m) => m.set(g.timeBoundActive));
  gauge("clutch_luigi_time_bound_next_expiry_seconds", "Seconds until the next time-bound change is undone (absent when none is in force).", [], (g, m) => {
    if (g.nextExpirySeconds !== null) m.set(g.nextExpirySeconds);
  });
  gauge("clutch_luigi_break_glass_open_follow_ups", "Break-glass runs no code owner has followed up yet.", [], (g, m) => m.set(g.openFollowUps));

  return {
    registry,
    contentType: registry.contentType,
    webhooks: new Counter({ name: "clutch_luigi_webhooks_total", help: "Webhook delivery attempts, by event and outcome (ok, ignored, error: to be retried, dead: given up).", labelNames: ["event", "outcome"], registers: [registry] }),
    webhookSeconds: new Histogram({
      name: "clutch_luigi_webhook_duration_seconds",
      help: "Time to process a webhook delivery, by event.",
      labelNames: ["event"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    githubCalls: new Counter({ name: "clutch_luigi_github_api_calls_total", help: "GitHub API calls, by route template and status.", labelNames: ["route", "status"], registers: [registry] }),
    githubRateLimitRemaining: new Gauge({ name: "clutch_luigi_github_rate_limit_remaining", help: "x-ratelimit-remaining of the last GitHub response, by installation.", labelNames: ["installation"], registers: [registry] }),
    verdicts: new Counter({ name: "clutch_luigi_policy_verdicts_total", help: "Policy evaluations published from webhook deliveries, by outcome (approved, not_approved).", labelNames: ["outcome"], registers: [registry] }),
    stepSeconds: new Histogram({
      name: "clutch_luigi_step_duration_seconds",
      help: "Step attempt durations, by action and outcome.",
      labelNames: ["action", "outcome"],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      registers: [registry],
    }),
    render: () => registry.metrics(),
  };
}
