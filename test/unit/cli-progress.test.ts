import { describe, expect, it } from "vitest";
import { changeLines, eventLine, printable, renderTable, type ProgressRun } from "../../src/cli/progress.js";

const at = "2026-11-29T10:00:01.250Z";

describe("eventLine", () => {
  it.each([
    [{ kind: "step.running", step_id: "alter-role", data: { attempt: 1 } }, "10:00:01.250 alter-role running (attempt 1)"],
    [{ kind: "step.retrying", step_id: "alter-role", data: { attempt: 1, errorClass: "connection", delayMs: 2000 } }, "10:00:01.250 alter-role retrying (connection, next try in 2000ms)"],
    [{ kind: "step.failed", step_id: "x", data: { attempt: 3, errorClass: "timeout" } }, "10:00:01.250 x failed (attempt 3, timeout)"],
    [{ kind: "step.waiting", step_id: "hold", data: { timerMs: 14400000 } }, "10:00:01.250 hold waiting (timer 14400000ms)"],
    [{ kind: "run.waiting", step_id: null, data: { lock: "db:orders" } }, "10:00:01.250 run waiting (lock db:orders)"],
    [{ kind: "run.rolled_back", step_id: null, data: { error: "step b failed (http-4xx): no" } }, "10:00:01.250 run rolled_back (step b failed (http-4xx): no)"],
    [{ kind: "lock.acquired", step_id: null, data: { key: "db:orders" } }, "10:00:01.250 lock acquired db:orders"],
    [{ kind: "run.created", step_id: null, data: { workflow: "w" } }, null],
  ])("%j", (e, line) => {
    expect(eventLine({ at, ...e })).toBe(line);
  });
});

describe("renderTable", () => {
  const run: ProgressRun = {
    runId: "r-1",
    workflow: "rotate",
    state: "rolling_back",
    steps: [
      { stepId: "password", state: "rolled_back", attempt: 1, rollbackAttempt: 1, errorClass: null, error: null },
      { stepId: "alter-role", state: "failed", attempt: 3, errorClass: "connection", error: "connect ECONNREFUSED\n127.0.0.1:5432" },
      { stepId: "publish", state: "cancelled", attempt: 0, errorClass: null, error: null },
    ],
  };

  it("shows every step with its state, tries and error on one line each", () => {
    expect(renderTable(run, 1234)).toEqual([
      "run r-1  rotate  rolling_back  1.2s",
      "  STEP        STATE            TRY  DETAIL",
      "↩ password    rolled_back       r1  ",
      "✗ alter-role  failed             3  connection: connect ECONNREFUSED 127.0.0.1:5432",
      "- publish     cancelled             ",
    ]);
  });

  it("cuts lines to the terminal width", () => {
    for (const line of renderTable(run, 0, 30)) expect(line.length).toBeLessThanOrEqual(30);
    // a terminal that reports no size still gets readable lines
    expect(renderTable(run, 0, 0)[2]).toBe("↩ password    rolle…");
  });
});

describe("printable: action and request text cannot drive the terminal", () => {
  const hostile = "denied\x1b[2J\x1b]52;c;cHduZWQ=\x07 by \u202egnp.exe\r\nfake line";
  it("shows control characters and bidi overrides as escapes, line breaks as spaces", () => {
    expect(printable(hostile)).toBe("denied\\x1b[2J\\x1b]52;c;cHduZWQ=\\x07 by \\u{202e}gnp.exe  fake line");
    expect(printable("two\nlines\tand tab\r\n", true)).toBe("two\nlines\tand tab\n");
  });
  it("is applied to every line that carries such text", () => {
    const lines = [
      eventLine({ at, kind: "run.rolled_back", step_id: null, data: { error: hostile } })!,
      eventLine({ at, kind: "lock.acquired", step_id: null, data: { key: hostile } })!,
      ...renderTable({ runId: "r", workflow: "w", state: "failed", steps: [{ stepId: "s", state: "failed", attempt: 1, errorClass: "refused", error: hostile }] }, 0),
      ...changeLines(null, { runId: "r", workflow: "w", state: "failed", error: hostile, steps: [] }, "10:00:00"),
    ];
    for (const l of lines) expect(l).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(lines[0]).toContain("denied\\x1b[2J");
  });
});

