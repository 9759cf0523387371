/**
 * `audit report`: the evidence of a period from real runs (a retried deploy, a
 * break-glass rotation that fails and rolls back, a refused merge, a rejected API
 * call), in Markdown, CSV and JSON; hostile text in the trail cannot break a table,
 * a CSV row, or run as a spreadsheet formula.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { BACKENDS } from "../engine/backends.js";
import type { Store } from "../../../src/store/db.js";
import { appendAudit } from "../../../src/store/audit.js";
import { chainHead } from "../../../src/store/audit-query.js";
import { executeReport, parseReport } from "../../../src/cli/commands/audit/report.js";
import { csvCell, mdCell } from "../../../src/audit/report-format.js";
import { PLANTED, runScenario, testIO, type Scenario } from "./support.js";

/** Parses RFC 4180 text (quoted fields with commas, quotes and newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(cell), (cell = "");
    else if (c === "\r" && text[i + 1] === "\n") row.push(cell), rows.push(row), (row = []), (cell = ""), i++;
    else cell += c;
  }
  if (cell !== "" || row.length > 0) row.push(cell), rows.push(row);
  return rows;
}

const HOSTILE = '=HYPERLINK("http://evil.example","click") | pipe, comma "quote"\nnewline';

describe.each(BACKENDS)("audit report ($name)", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let scenario: Scenario;
  let since: Date;
  let until: Date;

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
    await store.db.transaction((trx: Knex.Transaction) =>
      appendAudit(trx, { kind: "run.created", runId: "99999999-2222-4333-8444-555555555555", actor: "early", data: { workflow: "before-the-period", repository: "acme/ops" } }),
    );
    await new Promise((r) => setTimeout(r, 20));
    since = new Date();
    await store.db.transaction((trx: Knex.Transaction) =>
      appendAudit(trx, {
        kind: "request.evaluated",
        actor: "alice",
        data: { repository: "acme/ops", pullRequest: 17, approved: true, summary: "2 of 2 approvals from @acme/sre (CODEOWNERS requests/prod/)", approvedBy: ["bob", "carol"] },
      }),
    );
    scenario = await runScenario(store);
    await store.db.transaction((trx: Knex.Transaction) =>
      appendAudit(trx, [
        { kind: "run.refused", actor: "mallory", data: { repository: "acme/ops", pullRequest: 19, requestPath: "requests/prod/x.yaml", requester: "mallory", blocking: ["self-approval"], reasons: ["the author's own approval does not count"] } },
        { kind: "run.refused", actor: "eve", data: { repository: "acme/other", pullRequest: 3, requester: HOSTILE, reasons: [HOSTILE] } },
      ]),
    );
    await new Promise((r) => setTimeout(r, 20));
    until = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await store.db.transaction((trx: Knex.Transaction) =>
      appendAudit(trx, { kind: "run.refused", actor: "late", data: { repository: "acme/ops", requester: "after-the-period" } }),
    );
  });
  afterAll(async () => cleanup());

  async function report(...argv: string[]): Promise<string> {
    const io = testIO();
    const opts = parseReport(["--since", since.toISOString(), "--until", until.toISOString(), ...argv], process.cwd());
    expect(await executeReport(store, opts, io, new Date("2026-12-02T00:00:00Z"))).toBe(0);
    const out = io.out();
    expect(out + io.err()).not.toContain(PLANTED);
    return out;
  }

  it("JSON: every run of the period with requester, approvers, policy, outcome, duration, break-glass, follow-up", async () => {
    const doc = JSON.parse(await report("--format", "json")) as {
      runs: Record<string, unknown>[];
      refusals: Record<string, unknown>[];
      chain: { periodEnd: { seq: number; hash: string }; head: { seq: number; hash: string }; runs: number };
    };
    expect(doc.runs.map((r) => r.runId)).toEqual([scenario.deployId, scenario.rotateId]);
    const [deploy, rotate] = doc.runs as [Record<string, unknown>, Record<string, unknown>];
    expect(deploy).toMatchObject({
      repository: "acme/ops",
      pullRequest: 17,
      workflow: "deploy-api",
      requestPath: "requests/prod/deploy-api.yaml",
      reason: "OPS-42 ship the api",
      requester: "alice",
      approvers: [{ login: "bob", reviewId: 80 }, { login: "carol", reviewId: 81 }],
      rules: "2 of 2 approvals from @acme/sre (CODEOWNERS requests/prod/); approved by bob, carol",
      outcome: "succeeded",
      breakGlass: false,
      followUp: "not required",
      failedSteps: [],
    });
    expect(deploy.durationMs).toBeGreaterThanOrEqual(0);
    expect(rotate).toMatchObject({ requester: "dependabot[bot]", approvers: [{ login: "dave", reviewId: 90 }], outcome: "rolled_back", breakGlass: true, followUp: "open", failedSteps: ["alter-role"], rules: null });
    // The refusals of the period, and who was refused; the one after --until is not read.
    expect(doc.refusals.map((f) => [f.kind, f.refused])).toEqual([
      ["auth.rejected", "anonymous"],
      ["run.refused", "mallory"],
      ["run.refused", HOSTILE],
    ]);
    expect(doc.chain.runs).toBe(2);
    expect(doc.chain.head).toEqual(await chainHead(store.db));
    expect(doc.chain.periodEnd.seq).toBe(doc.chain.head.seq - 1);
  });

  it("--repository keeps that repository's runs and refusals only", async () => {
    const doc = JSON.parse(await report("--format", "json", "--repository", "acme/other")) as { runs: unknown[]; refusals: { refused: string }[] };
    expect(doc.runs).toEqual([]);
    expect(doc.refusals.map((f) => f.refused)).toEqual([HOSTILE]);
  });

  it("Markdown: tables an auditor pastes into evidence, hostile text kept on one escaped line", async () => {
    const md = await report();
    expect(md).toContain("# Clutch Luigi audit report\n");
    expect(md).toContain(`- Period: ${since.toISOString()} to ${until.toISOString()} (until is exclusive)\n`);
    expect(md).toContain("## Runs (2)\n");
    const runLine = md.split("\n").find((l) => l.includes(scenario.deployId))!;
    expect(runLine).toContain("| alice | bob (review 80), carol (review 81) |");
    expect(runLine).toContain("| succeeded |");
    const hostile = md.split("\n").find((l) => l.includes("HYPERLINK"))!;
    // Every row of the refusals table has exactly its 7 cells: the pipe in the text is escaped.
    expect(hostile.split(/(?<!\\)\|/).length - 2).toBe(7);
    expect(md).not.toContain("newline\n");
    expect(md).toMatch(/- Last row of the period: seq \d+, hash `[0-9a-f]{64}`/);
    expect(md).not.toContain("after-the-period");
  });

  it("CSV: a spreadsheet reads one record per run and refusal, and runs no formula", async () => {
    const rows = parseCsv(await report("--format", "csv"));
    const header = rows[0]!;
    expect(header.slice(0, 3)).toEqual(["record", "run_id", "created_at"]);
    expect(rows.every((r) => r.length === header.length)).toBe(true);
    expect(rows.map((r) => r[0])).toEqual(["record", "run", "run", "refusal", "refusal", "refusal", "chain"]);
    const hostile = rows.find((r) => r[header.indexOf("refused")]?.includes("HYPERLINK"))!;
    expect(hostile[header.indexOf("refused")]).toBe(`'${HOSTILE}`);
    for (const r of rows) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it("escapes cells for CSV and Markdown", () => {
    expect(csvCell("=1+1")).toBe("'=1+1");
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-1")).toBe("'-1");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\tx")).toBe("'\tx");
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell("a\nb")).toBe('"a\nb"');
    expect(csvCell(-5)).toBe("-5");
    expect(csvCell(null)).toBe("");
    expect(mdCell("a|b\nc `d` <e>")).toBe("a\\|b c \\`d\\` \\<e\\>");
  });

  it("writes --out atomically and refuses bad options", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cl-report-"));
    const io = testIO();
    const out = join(dir, "q4.md");
    expect(await executeReport(store, parseReport(["--since", since.toISOString(), "--until", until.toISOString(), "--out", out], dir), io)).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("## Runs (2)");
    expect(readdirSync(dir)).toEqual(["q4.md"]);
    for (const [argv, message] of [
      [[], /--since is required/],
      [["--since", "2026-12-01", "--until", "2026-11-01"], /before --until/],
      [["--since", "2026-12-01T10:00"], /zone/],
      [["--since", "2026-12-01", "--format", "xlsx"], /md, csv or json/],
      [["--since", "2026-12-01", "--repository", "acme"], /OWNER\/REPO/],
    ] as const) {
      expect(() => parseReport([...argv], dir)).toThrow(message);
    }
  });
});
