/** A retried or rolled-back run is active again: its earlier final row no longer stands, in `audit show` and `audit report`. */
import { describe, expect, it } from "vitest";
import { PeriodReport } from "../../../src/audit/report.js";
import { finalRunEvent } from "../../../src/audit/story.js";
import type { AuditRow } from "../../../src/store/audit.js";

const RUN = "11111111-2222-4333-8444-555555555555";
let seq = 0;
const row = (kind: string, actor = "worker:w", data: Record<string, unknown> = {}): AuditRow =>
  ({ seq: ++seq, at: new Date(Date.UTC(2026, 11, 2, 10, 0, seq)).toISOString(), kind, run_id: RUN, step_id: null, actor, data, prev_hash: "", hash: `h${seq}`, body: "" }) as AuditRow;

describe("finalRunEvent", () => {
  it("is the last final row, unless a retry or a roll back came after it", () => {
    const failed = row("run.rolled_back");
    expect(finalRunEvent([row("run.created"), failed])).toBe(failed);
    expect(finalRunEvent([row("run.created"), failed, row("run.retried", "sam")])).toBeUndefined();
    const ok = row("run.succeeded");
    expect(finalRunEvent([row("run.created"), failed, row("run.retried", "sam"), row("run.started"), ok])).toBe(ok);
    expect(finalRunEvent([ok, row("run.rollback_requested", "otto"), row("run.rolling_back")])).toBeUndefined();
  });
});

describe("PeriodReport", () => {
  it("shows the outcome the run ended with last, and the people's requests among its actions", () => {
    const r = new PeriodReport();
    for (const x of [
      row("run.created", "sam", { repository: "acme/ops", pullRequest: 7, workflow: "w", requestPath: "r.yaml", requester: "alice", approvals: [] }),
      row("run.rolled_back"),
      row("run.retried", "sam", { from: "rolled_back" }),
    ]) r.add(x);
    expect(r.result()[0]).toMatchObject({ outcome: "running", finishedAt: null, actions: ["run.retried by sam"] });
    r.add(row("run.succeeded"));
    r.add(row("run.rollback_requested", "otto"));
    r.add(row("run.rolled_back"));
    expect(r.result()[0]).toMatchObject({ outcome: "rolled_back", actions: ["run.retried by sam", "run.rollback_requested by otto"] });
  });
});
