import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS } from "../engine/backends.js";
import type { Store } from "../../../src/store/db.js";
import { listAuditEvents } from "../../../src/store/audit.js";
import { executeList, parseList } from "../../../src/cli/commands/audit/list.js";
import { executeShow, parseShow } from "../../../src/cli/commands/audit/show.js";
import { executeVerify } from "../../../src/cli/commands/audit/verify.js";
import { executeExport, parseExport } from "../../../src/cli/commands/audit/export.js";
import { PLANTED, asSuperuser, runScenario, testIO, type Scenario } from "./support.js";

describe.each(BACKENDS)("audit commands on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let sc: Scenario;
  /** Everything any command printed, to prove the planted secret never appears. */
  const printed: string[] = [];

  async function list(...argv: string[]) {
    const io = testIO();
    const code = await executeList(store, parseList(argv), io);
    printed.push(io.out(), io.err());
    return { code, out: io.out(), err: io.err() };
  }
  async function show(run: string) {
    const io = testIO();
    const code = await executeShow(store, parseShow([run]), io);
    printed.push(io.out(), io.err());
    return { code, out: io.out(), err: io.err() };
  }

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
    sc = await runScenario(store);
  });
  afterAll(async () => cleanup());

  it("ran the scenario the tests rely on", () => {
    expect(sc.deploy.state).toBe("succeeded");
    expect(sc.rotate.steps.find((s) => s.stepId === "alter-role")).toMatchObject({ state: "failed", errorClass: "http-4xx" });
  });

  it("lists the newest rows as a table, oldest first", async () => {
    const all = await listAuditEvents(store.db, { limit: 10_000 });
    const r = await list("--limit", "5");
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^SEQ\s+TIME \(UTC\)\s+KIND\s+RUN\s+STEP\s+ACTOR\s+SUMMARY$/);
    expect(lines.slice(1).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual(all.slice(-5).map((e) => e.seq));
    expect(lines.at(-1)).toMatch(/auth\.rejected\s+-\s+-\s+anonymous\s+bad_signature · \/api\/runs$/);
    expect(r.err).toMatch(/showing the newest 5 matching rows; older ones exist/);
  });

  it("filters by run (full id or prefix), kind prefix and actor", async () => {
    const byRun = await list("--run", sc.deployId, "--json", "--limit", "1000");
    const rows = byRun.out.trimEnd().split("\n").map((l) => JSON.parse(l) as { run_id: string; kind: string; seq: number; hash: string; body: string });
    expect(rows.length).toBeGreaterThan(5);
    expect(new Set(rows.map((r) => r.run_id))).toEqual(new Set([sc.deployId]));
    expect(rows.map((r) => r.kind)).toContain("step.retrying");
    expect(rows[0]).toHaveProperty("body");
    const prefixed = await list("--run", sc.deployId.slice(0, 8), "--json", "--limit", "1000");
    expect(prefixed.out).toBe(byRun.out);

    const failed = await list("--kind", "step.fail", "--json");
    const kinds = failed.out.trimEnd().split("\n").map((l) => JSON.parse(l) as { kind: string; step_id: string });
    expect(kinds).toEqual([expect.objectContaining({ kind: "step.failed", step_id: "alter-role" })]);

    const byActor = await list("--actor", "dependabot[bot]", "--json");
    const actorKinds = byActor.out.trimEnd().split("\n").map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(actorKinds[0]).toBe("run.created");
    expect(actorKinds.every((k) => k.startsWith("run.") || k.startsWith("step.") || k.startsWith("lock."))).toBe(true);
    expect((await list("--actor", "dependabot")).out).toBe("no audit rows match\n");
    // LIKE wildcards in the prefix are literal.
    expect((await list("--kind", "%")).out).toBe("no audit rows match\n");
  });

  it("filters by time: --since inclusive, --until exclusive", async () => {
    const all = await listAuditEvents(store.db, { limit: 10_000 });
    const mid = all[Math.floor(all.length / 2)]!;
    // The row's own instant to the millisecond (what the flag can say), then the next millisecond.
    const at = new Date(mid.at);
    const after = (await list("--since", at.toISOString(), "--json", "--limit", "1000")).out.trimEnd().split("\n").map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(after.every((s) => new Date(all.find((e) => e.seq === s)!.at).getTime() >= at.getTime())).toBe(true);
    expect(after.length).toBe(all.filter((e) => new Date(e.at).getTime() >= at.getTime()).length);
    const before = (await list("--until", at.toISOString(), "--json", "--limit", "1000")).out;
    const beforeSeqs = before ? before.trimEnd().split("\n").map((l) => (JSON.parse(l) as { seq: number }).seq) : [];
    expect(beforeSeqs.length + after.length).toBe(all.length);
    expect((await list("--since", "2099-01-01")).out).toBe("no audit rows match\n");
  });

  it("tells one run's story: request, identity with review ids, timeline, attempts, final state, anchors", async () => {
    const r = await show(sc.deployId);
    expect(r.code).toBe(0);
    const out = r.out;
    expect(out).toContain(`Run ${sc.deployId}`);
    expect(out).toMatch(/workflow\s+deploy-api/);
    expect(out).toMatch(/file\s+requests\/prod\/deploy-api\.yaml/);
    expect(out).toMatch(/reason\s+OPS-42 ship the api\s+\(runs table\)/);
    expect(out).toMatch(/params\s+service, version\s+\(names only/);
    expect(out).not.toContain("build-7f3e");
    expect(out).toMatch(/pull request\s+#17/);
    expect(out).toMatch(/commit\s+6dcb09b5b57875f334f61aebed695e2e4193db5e/);
    expect(out).toMatch(/requested by\s+alice \(User\)/);
    expect(out).toMatch(/approved by\s+bob \(review 80\), carol \(review 81\)/);
    expect(out).toMatch(/break-glass\s+no/);
    const rows = await listAuditEvents(store.db, { runId: sc.deployId });
    // Every state change, in chain order.
    const timeline = out.split("Timeline")[1]!.split("Attempts")[0]!;
    let from = 0;
    for (const e of rows) {
      const i = timeline.indexOf(e.kind, from);
      expect(i, `${e.seq} ${e.kind}`).toBeGreaterThanOrEqual(from);
      from = i;
    }
    expect(timeline).toMatch(/step\.retrying\s+rollout\s+attempt 1 · connection · retry in \d+ms/);
    expect(out).toMatch(/rollout\s+forward\s+1\s+failed\s+connection\s+.*upstream refused \(attempt 1\)/);
    expect(out).toMatch(/rollout\s+forward\s+2\s+succeeded/);
    expect(out).toMatch(/run\s+succeeded\s+\(seq \d+/);
    expect(out).toContain(`first row     seq ${rows[0]!.seq}  hash ${rows[0]!.hash}`);
    expect(out).toContain(`last row      seq ${rows.at(-1)!.seq}  hash ${rows.at(-1)!.hash}`);
    expect(out).toMatch(/each hash matches its body/);
    expect(out).toMatch(/the runs row agrees with the hashed run\.created row/);
    expect(out).not.toContain("PROBLEMS");
  });

  it("shows a failed break-glass run with its error class, without the secret", async () => {
    const r = await show(sc.rotateId.slice(0, 6));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/requested by\s+dependabot\[bot\] \(Bot\)/);
    expect(r.out).toMatch(/break-glass\s+YES/);
    expect(r.out).toMatch(/params\s+database, role/);
    expect(r.out).toMatch(/alter-role\s+forward\s+1\s+failed\s+http-4xx/);
    expect(r.out).toMatch(/server refused password/);
    expect(r.out).toMatch(/run\s+(failed|rolled_back) — step alter-role failed \(http-4xx\)/);
  });

  it("says which run ids a prefix matches, and when none", async () => {
    await expect(executeShow(store, parseShow(["ffffffff"]), testIO())).rejects.toThrow(/no run in the audit trail starts with "ffffffff"/);
    const io = testIO();
    expect(await executeShow(store, parseShow(["00000000-0000-4000-8000-000000000000"]), io)).toBe(1);
    expect(io.err()).toMatch(/no run 00000000-0000-4000-8000-000000000000/);
  });

  it("verifies the intact chain", async () => {
    const io = testIO();
    expect(await executeVerify(store, { anchors: [] }, io)).toBe(0);
    const all = await listAuditEvents(store.db, { limit: 10_000 });
    expect(io.out()).toBe(`${all.length} rows, head seq ${all.at(-1)!.seq}, head hash ${all.at(-1)!.hash}: intact\n`);
    printed.push(io.out());
  });

  it("never prints the planted secret from any command", async () => {
    for (const format of ["jsonl", "csv"]) {
      const io = testIO();
      expect(await executeExport(store, parseExport(["--format", format], process.cwd()), io)).toBe(0);
      printed.push(io.out(), io.err());
    }
    printed.push((await list("--limit", "1000")).out, (await list("--json", "--limit", "1000")).out, (await show(sc.rotateId)).out);
    // The secret was really there to leak: it is in the encrypted step outputs and in the action's error path.
    const { rowsOf } = await import("../../../src/store/db.js");
    const sealed = rowsOf<{ secret_outputs: string | null }>(await store.db.raw("select secret_outputs from steps where run_id = ? and step_id = 'password'", [sc.rotateId]));
    expect(sealed[0]?.secret_outputs).toMatch(/.{20}/);
    const attempt = rowsOf<{ error: string }>(await store.db.raw("select error from attempts where run_id = ? and step_id = 'alter-role'", [sc.rotateId]));
    expect(attempt[0]?.error).toMatch(/^server refused password \S+$/);
    expect(printed.join("").length).toBeGreaterThan(10_000);
    expect(printed.join("")).not.toContain(PLANTED);
  });

  it("flags a runs row that disagrees with the hashed trail", async () => {
    await asSuperuser(store, [
      [`update runs set identity = jsonb_set(identity, '{approvers}', '[{"login":"mallory","reviewId":1}]') where id = ?`, [sc.deployId]],
    ]);
    const r = await show(sc.deployId);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/PROBLEMS\n {2}approvers: the hashed run\.created row says \["bob","carol"\], the runs table says \["mallory"\]/);
    // The hashed approvers are the ones shown.
    expect(r.out).toMatch(/approved by\s+bob, carol/);
  });
});
