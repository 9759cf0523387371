/**
 * `audit export` is for people who do not run our code: the verification script in
 * docs/audit.md is extracted verbatim and run with plain node against real exports,
 * intact and tampered.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import { BACKENDS } from "../engine/backends.js";
import type { Store } from "../../../src/store/db.js";
import { appendAudit, auditHash, listAuditEvents } from "../../../src/store/audit.js";
import { executeExport, parseExport } from "../../../src/cli/commands/audit/export.js";
import { asSuperuser, runScenario, testIO, type Scenario } from "./support.js";

const DOC = new URL("../../../docs/audit.md", import.meta.url).pathname;

/** The fenced js block under "## Verifying an export", exactly as a reader would copy it. */
function docScript(): string {
  const doc = readFileSync(DOC, "utf8");
  const section = doc.split("## Verifying an export")[1];
  const m = section && /```js\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error("docs/audit.md has no js block under '## Verifying an export'");
  return m[1]!;
}

/** A strict RFC 4180 reader, enough to check what the export writes. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"', (i += 2));
      else if (c === '"') (quoted = false, i++);
      else (field += c, i++);
    } else if (c === '"') (quoted = true, i++);
    else if (c === ",") (record.push(field), (field = ""), i++);
    else if (c === "\r" && text[i + 1] === "\n") (record.push(field), records.push(record), (record = []), (field = ""), (i += 2));
    else (field += c, i++);
  }
  if (field !== "" || record.length > 0) throw new Error("CSV does not end with CRLF");
  return records;
}

describe.each(BACKENDS)("audit export on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let sc: Scenario;
  let dir: string;
  let script: string;

  function verifyFile(file: string, ...args: string[]): { code: number; out: string; err: string } {
    const r = spawnSync(process.execPath, [script, file, ...args], { encoding: "utf8" });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  }

  async function exportTo(name: string, ...argv: string[]): Promise<string> {
    const file = join(dir, name);
    const io = testIO();
    expect(await executeExport(store, parseExport([...argv, "--out", file], dir), io)).toBe(0);
    expect(io.out()).toBe("");
    return file;
  }

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
    sc = await runScenario(store);
    // Text that stresses both formats and the UTF-8 hashing: non-ASCII, quotes, commas, a newline.
    await store.db.transaction((trx: Knex.Transaction) =>
      appendAudit(trx, { kind: "note.added", actor: "zoë", data: { text: 'Zoë said "ship it", then\nleft ✓' } }),
    );
    dir = mkdtempSync(join(tmpdir(), "cl-audit-export-"));
    script = join(dir, "verify-audit.mjs");
    writeFileSync(script, docScript());
  });
  afterAll(async () => {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the documented script is about 15 lines", () => {
    const lines = docScript().trimEnd().split("\n").length;
    expect(lines).toBeGreaterThanOrEqual(10);
    expect(lines).toBeLessThanOrEqual(20);
  });

  it("exports every row, and the documented script verifies it up to the chain head", async () => {
    const file = await exportTo("chain.jsonl");
    const rows = await listAuditEvents(store.db, { limit: 100_000 });
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(rows.length);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(["seq", "at", "kind", "run_id", "step_id", "actor", "data", "prev_hash", "hash", "body"]);
    expect(first.body).toBe(rows[0]!.body);
    const r = verifyFile(file);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${rows.length} rows verified; last seq ${rows.at(-1)!.seq}, hash ${rows.at(-1)!.hash}\n`);
  });

  it("one run's export verifies with --run", async () => {
    const file = await exportTo("run.jsonl", "--run", sc.deployId);
    const lines = readFileSync(file, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { run_id: string });
    expect(lines.length).toBe((await listAuditEvents(store.db, { runId: sc.deployId })).length);
    expect(lines.every((l) => l.run_id === sc.deployId)).toBe(true);
    expect(verifyFile(file, "--run").code).toBe(0);
  });

  it("the script fails on an edited, a dropped and a reordered line", async () => {
    const text = readFileSync(await exportTo("chain.jsonl"), "utf8");
    const lines = text.trimEnd().split("\n");
    const k = lines.findIndex((l) => l.includes('"kind":"run.created"') && l.includes("alice"));
    const seq = (JSON.parse(lines[k]!) as { seq: number }).seq;

    const edited = [...lines];
    edited[k] = edited[k]!.replace('\\"requester\\": \\"alice\\"', '\\"requester\\": \\"mallory\\"');
    expect(edited[k]).not.toBe(lines[k]);
    writeFileSync(join(dir, "edited.jsonl"), edited.join("\n") + "\n");
    expect(verifyFile(join(dir, "edited.jsonl"))).toMatchObject({ code: 1, err: `seq ${seq}: hash does not match prev_hash + body\n` });

    writeFileSync(join(dir, "dropped.jsonl"), lines.filter((_, i) => i !== 2).join("\n") + "\n");
    expect(verifyFile(join(dir, "dropped.jsonl"))).toMatchObject({ code: 1, err: "seq 4: expected seq 3: rows missing or out of order\n" });

    const swapped = [...lines];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    writeFileSync(join(dir, "swapped.jsonl"), swapped.join("\n") + "\n");
    expect(verifyFile(join(dir, "swapped.jsonl"))).toMatchObject({ code: 1, err: "seq 4: expected seq 3: rows missing or out of order\n" });
  });

  it("exports CSV with the same fields, quoted so the body survives byte for byte", async () => {
    const csv = readFileSync(await exportTo("chain.csv", "--format", "csv"), "utf8");
    const jsonl = readFileSync(await exportTo("chain.jsonl"), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const [header, ...records] = parseCsv(csv);
    expect(header).toEqual(["seq", "at", "kind", "run_id", "step_id", "actor", "data", "prev_hash", "hash", "body"]);
    expect(records).toHaveLength(jsonl.length);
    records.forEach((rec, i) => {
      const j = jsonl[i]!;
      expect(rec[0]).toBe(String(j.seq));
      expect(rec[3]).toBe(j.run_id ?? "");
      expect(JSON.parse(rec[6]!)).toEqual(j.data);
      expect(rec[9]).toBe(j.body);
      expect(auditHash(rec[7]!, rec[9]!)).toBe(rec[8]);
    });
    expect(records.at(-1)![5]).toBe("zoë");
  });

  it("an export of a tampered database fails the script", async () => {
    const rows = await listAuditEvents(store.db, { limit: 100_000 });
    const row = rows[2]!;
    const body = row.body.replace(/"actor": "[^"]*"/, '"actor": "mallory"');
    await asSuperuser(store, [["update audit_events set body = ?, actor = 'mallory', hash = ? where seq = ?", [body, auditHash(row.prev_hash, body), row.seq]]]);
    const r = verifyFile(await exportTo("tampered.jsonl"));
    expect(r).toMatchObject({ code: 1, err: `seq ${row.seq + 1}: prev_hash does not link to the previous row\n` });
  });

  it("leaves no file behind when the export fails", async () => {
    const file = join(dir, "never.jsonl");
    await expect(executeExport(store, parseExport(["--run", "ffffffff", "--out", file], dir), testIO())).rejects.toThrow(/no run in the audit trail starts with "ffffffff"/);
    expect(readdirSync(dir).filter((f) => f.startsWith("never.jsonl"))).toEqual([]);
  });

  it("refuses an unknown format before touching the database", () => {
    expect(() => parseExport(["--format", "xml"], dir)).toThrow(/--format is jsonl or csv, not "xml"/);
  });
});
