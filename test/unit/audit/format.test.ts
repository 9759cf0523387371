import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { AuditRow } from "../../../src/store/audit.js";
import { csvHeader, csvLine, jsonlLine } from "../../../src/audit/export-format.js";
import { summarizeAuditRow } from "../../../src/audit/summary.js";
import { renderAuditTable, shortRunId } from "../../../src/audit/table.js";
import { auditRowProblem } from "../../../src/audit/row-check.js";

/** 48 rows exported from the embedded database after `clutch-luigi demo`. */
const CHAIN: AuditRow[] = readFileSync(new URL("../../fixtures/audit/demo-chain.jsonl", import.meta.url), "utf8")
  .trimEnd()
  .split("\n")
  .map((l) => JSON.parse(l) as AuditRow);

describe("summaries", () => {
  it("says who asked and who approved on run.created", () => {
    expect(summarizeAuditRow({ kind: "run.created", data: { workflow: "rotate", requestPath: "requests/r.yaml", repository: "acme/ops", pullRequest: 7, requester: "alice", approvers: ["bob", "carol"], breakGlass: true } }))
      .toBe("rotate · requests/r.yaml · acme/ops#7 · by alice · approved by bob,carol · BREAK-GLASS");
    expect(summarizeAuditRow({ kind: "run.created", data: { workflow: "w", repository: "local/x", pullRequest: null, requester: "me", approvers: [] } }))
      .toBe("w · local/x · by me · approved by nobody");
  });

  it("shows attempts, error classes, backoff and unknown scalar fields", () => {
    expect(summarizeAuditRow({ kind: "step.retrying", data: { attempt: 2, errorClass: "connection", delayMs: 400 } })).toBe("attempt 2 · connection · retry in 400ms");
    expect(summarizeAuditRow({ kind: "custom.thing", data: { ticket: "OPS-1", nested: { no: 1 } } })).toBe("ticket=OPS-1");
    expect(summarizeAuditRow({ kind: "auth.rejected", data: { reason: "expired", path: "/api/runs", message: "token expired" } })).toBe("expired · /api/runs · token expired");
  });

  it("cuts long summaries to the room given, on one line", () => {
    const s = summarizeAuditRow({ kind: "run.failed", data: { error: `a\n${"x".repeat(300)}` } }, 40);
    expect(s).toHaveLength(40);
    expect(s).not.toContain("\n");
    expect(s.endsWith("…")).toBe(true);
  });
});

describe("table", () => {
  it("has one line per row plus a header, and fits a terminal width", () => {
    const lines = renderAuditTable(CHAIN.slice(0, 10), 100);
    expect(lines).toHaveLength(11);
    expect(lines[1]).toMatch(new RegExp(`^  1  2026-11-29 08:51:11\\.240  run\\.created\\s+${shortRunId(CHAIN[0]!.run_id)}\\s+-\\s+local\\s+demo-rollou…$`));
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
  });
});

describe("export formats", () => {
  it("writes JSON lines with a fixed key order", () => {
    const reordered = Object.fromEntries(Object.entries(CHAIN[3]!).reverse()) as unknown as AuditRow;
    const line = jsonlLine(reordered);
    expect(Object.keys(JSON.parse(line))).toEqual(["seq", "at", "kind", "run_id", "step_id", "actor", "data", "prev_hash", "hash", "body"]);
    expect(line.endsWith("\n")).toBe(true);
  });

  it("quotes CSV fields with commas, quotes and newlines, and leaves nulls empty", () => {
    const row: AuditRow = { ...CHAIN[0]!, actor: 'a "b", c', step_id: null, data: { t: "x\ny" } };
    expect(csvHeader()).toBe("seq,at,kind,run_id,step_id,actor,data,prev_hash,hash,body\r\n");
    const line = csvLine(row);
    expect(line).toContain(`,,"a ""b"", c","{""t"":""x\\ny""}",`);
    expect(line.endsWith("\r\n")).toBe(true);
  });
});

describe("auditRowProblem", () => {
  it("accepts every row of a real chain", () => {
    expect(CHAIN.map(auditRowProblem).filter(Boolean)).toEqual([]);
  });

  it("names what was changed", () => {
    const r = CHAIN[5]!;
    expect(auditRowProblem({ ...r, body: r.body.replace('"seq": 6', '"seq": 7') })).toBe("hash does not match the row's body");
    expect(auditRowProblem({ ...r, actor: "mallory" })).toBe("actor differs from the hashed body");
    expect(auditRowProblem({ ...r, seq: 99 })).toBe("seq differs from the hashed body");
    expect(auditRowProblem({ ...r, at: "2026-11-29T08:51:11.240001Z" })).toBe("at differs from the hashed body");
    expect(auditRowProblem({ ...r, data: { ...r.data, extra: 1 } })).toBe("data differs from the hashed body");
  });
});
