/**
 * The loop that keeps GitHub in step with runs, in every process that holds the
 * app's credentials (the server and `clutch-luigi worker`). Each tick marks reports
 * due from new audit rows, claims some with a lease, and publishes them. Writes are
 * coalesced: at most one per run per `spacingMs`, and this process spaces writes to
 * one repository by `repoSpacingMs`, near GitHub's guidance of one content write per
 * second. A report that fails is retried with backoff; one whose process died is
 * claimed again when its lease ends, so its last state always reaches the PR.
 */
import type { Knex } from "knex";
import { chainHead } from "../../store/audit-query.js";
import { claimDueReports, claimPeriodicAnchor, deferReport, loadRunSnapshot, markReportsDue, recordPublished, recordReportFailure, type RunReportRow } from "../../store/run-reports.js";
import { statusOf, type GitHubClient } from "../client.js";
import { publishAuditAnchor } from "../audit-anchor.js";
import { publishRunReport, ReportWriteError } from "./publish-report.js";
import { sleep } from "../../engine/timers.js";

export type ReportClientFor = (runId: string, repository: string) => Promise<GitHubClient | null>;

export interface ReporterOptions {
  db: Knex;
  clientFor: ReportClientFor;
  pollMs?: number;
  leaseMs?: number;
  /** A report with no check yet is left this long to the process that started its run. */
  graceMs?: number;
  spacingMs?: number;
  repoSpacingMs?: number;
  batch?: number;
  anchor?: boolean;
  /** How often the chain head is anchored even when no run ends (default 1 h; 0 turns it off). */
  anchorEveryMs?: number;
  onError?: (e: unknown) => void;
  now?: () => Date;
}

const MAX_BACKOFF_MS = 5 * 60_000;

/** When to try a failed report again: GitHub's retry-after or rate-limit reset if it sent one, else exponential. */
export function retryDelayMs(e: unknown, failures: number, random = Math.random): number {
  const headers = (e as { response?: { headers?: Record<string, string | undefined> } } | null)?.response?.headers ?? {};
  const status = statusOf(e);
  if ((status === 403 || status === 429) && headers["retry-after"] && /^\d{1,6}$/.test(headers["retry-after"])) return Number(headers["retry-after"]) * 1_000;
  if ((status === 403 || status === 429) && headers["x-ratelimit-remaining"] === "0" && /^\d{1,12}$/.test(headers["x-ratelimit-reset"] ?? "")) {
    return Math.min(3_600_000, Math.max(1_000, Number(headers["x-ratelimit-reset"]) * 1_000 - Date.now()));
  }
  const base = Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(failures, 20));
  return Math.round(base / 2 + (random() * base) / 2);
}

/**
 * Publish one run's report now with the given client: the merge handler's, right
 * after it started the run, so the check appears with the merge. If another process
 * holds the report, that process publishes it.
 */
export async function publishRunNow(db: Knex, gh: GitHubClient, runId: string, onError?: (e: unknown) => void): Promise<boolean> {
  const reporter = new RunReporter({ db, clientFor: async () => gh, ...(onError ? { onError } : {}) });
  const [report] = await claimDueReports(db, { limit: 1, leaseMs: 30_000, graceMs: 0, runId });
  return report ? reporter.publish(report, gh) : false;
}

/** Settings an operator may change through the environment. */
export function reporterSettings(env: NodeJS.ProcessEnv): Pick<ReporterOptions, "anchorEveryMs"> {
  const every = env.CLUTCH_LUIGI_ANCHOR_INTERVAL_MS;
  return every !== undefined && /^\d{1,12}$/.test(every) ? { anchorEveryMs: Number(every) } : {};
}

export class RunReporter {
  private readonly lastWrite = new Map<string, number>();

  constructor(private readonly opts: ReporterOptions) {}

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** One pass: returns how many reports were written. */
  async tick(): Promise<number> {
    await markReportsDue(this.opts.db);
    await this.periodicAnchor();
    const claimed = await claimDueReports(this.opts.db, { limit: this.opts.batch ?? 20, leaseMs: this.opts.leaseMs ?? 30_000, graceMs: this.opts.graceMs ?? 10_000 });
    let written = 0;
    for (const report of claimed) if (await this.publish(report)) written++;
    return written;
  }

  /** The chain head as a commit status, every `anchorEveryMs`, by whichever process gets the turn. */
  private async periodicAnchor(): Promise<void> {
    const every = this.opts.anchorEveryMs ?? 3_600_000;
    if (every <= 0 || this.opts.anchor === false) return;
    const turn = await claimPeriodicAnchor(this.opts.db, every);
    if (!turn) return;
    try {
      const gh = await this.opts.clientFor(turn.runId, turn.repository);
      const [owner, repo] = turn.repository.split("/");
      if (!gh || !owner || !repo) return;
      await publishAuditAnchor(gh, { owner, repo, defaultBranch: turn.defaultBranch }, await chainHead(this.opts.db));
    } catch (e) {
      this.opts.onError?.(new Error(`periodic audit anchor on ${turn.repository}: ${(e as Error)?.message ?? String(e)}`));
    }
  }

  /** Write one claimed report; `given` skips the per-repository spacing (a handler's own client). */
  async publish(report: RunReportRow, given?: GitHubClient): Promise<boolean> {
    const { db } = this.opts;
    const snapshot = await loadRunSnapshot(db, report.runId);
    if (!snapshot) return false;
    const spacing = this.opts.repoSpacingMs ?? 1_000;
    const last = this.lastWrite.get(snapshot.repository) ?? 0;
    if (!given && Date.now() - last < spacing) {
      await deferReport(db, report.runId, new Date(last + spacing));
      return false;
    }
    try {
      const gh = given ?? (await this.opts.clientFor(report.runId, snapshot.repository));
      if (!gh) throw new Error(`run ${report.runId} has no GitHub installation to report to`);
      this.lastWrite.set(snapshot.repository, Date.now());
      if (this.lastWrite.size > 10_000) this.lastWrite.delete(this.lastWrite.keys().next().value as string);
      const published = await publishRunReport(db, gh, report, snapshot, {
        now: this.now(),
        ...(this.opts.anchor !== undefined ? { anchor: this.opts.anchor } : {}),
        ...(this.opts.spacingMs !== undefined ? { spacingMs: this.opts.spacingMs } : {}),
        onAnchorError: (e) => this.opts.onError?.(new Error(`audit anchor for run ${report.runId}: ${(e as Error)?.message ?? String(e)}`)),
      });
      await recordPublished(db, report.runId, published);
      return true;
    } catch (e) {
      const cause = e instanceof ReportWriteError ? e.cause : e;
      const partial = e instanceof ReportWriteError ? e.partial : {};
      await recordReportFailure(db, report.runId, {
        error: (cause as Error)?.message ?? String(cause),
        retryAt: new Date(Date.now() + retryDelayMs(cause, report.failures)),
        ...partial,
      });
      this.opts.onError?.(new Error(`run ${report.runId}: report not published: ${(cause as Error)?.message ?? String(cause)}`));
      return false;
    }
  }

  /** Tick until `signal` aborts; errors (database down) are reported and the loop goes on. */
  async run(signal: AbortSignal): Promise<void> {
    const pollMs = this.opts.pollMs ?? 500;
    while (!signal.aborted) {
      let busy = false;
      try {
        busy = (await this.tick()) > 0;
      } catch (e) {
        this.opts.onError?.(e);
      }
      if (!busy) await sleep(pollMs, signal);
    }
  }
}
