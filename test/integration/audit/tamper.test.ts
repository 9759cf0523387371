/**
 * Tampering as a superuser would: the append-only trigger is bypassed with
 * `session_replication_role = replica`, then rows are edited, deleted, swapped or
 * forged. `audit verify` must exit 1 and name the first broken row, each time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import { BACKENDS } from "../engine/backends.js";
import type { Store } from "../../../src/store/db.js";
import { rowsOf } from "../../../src/store/db.js";
import { appendAudit, auditHash, listAuditEvents } from "../../../src/store/audit.js";
import { executeVerify, parseVerify } from "../../../src/cli/commands/audit/verify.js";
import { asSuperuser, testIO } from "./support.js";

const RUN = "11111111-2222-4333-8444-555555555555";

describe.each(BACKENDS)("audit verify catches tampering on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => cleanup());

  beforeEach(async () => {
    // A fresh chain for each tampering (cheaper than a fresh database).
    await asSuperuser(store, [["delete from audit_events"], ["update audit_head set seq = 0, hash = '' where id = 1"]]);
    // Six rows over three transactions, as the engine writes them.
    for (const pair of [
      [{ kind: "run.created", runId: RUN, actor: "alice", data: { approvers: ["bob"], workflow: "rotate" } }, { kind: "run.started", runId: RUN, actor: "alice" }],
      [{ kind: "step.running", runId: RUN, stepId: "a", actor: "worker:w1", data: { attempt: 1 } }, { kind: "step.succeeded", runId: RUN, stepId: "a", actor: "worker:w1", data: { attempt: 1, outputs: [] } }],
      [{ kind: "run.succeeded", runId: RUN, actor: "worker:w1" }, { kind: "lock.released", runId: RUN, actor: "worker:w1", data: { key: "db:orders" } }],
    ]) {
      await store.db.transaction((trx: Knex.Transaction) => appendAudit(trx, pair));
    }
  });

  async function verify(...argv: string[]): Promise<{ code: number; out: string }> {
    const io = testIO();
    const code = await executeVerify(store, parseVerify(argv), io);
    return { code, out: io.out() };
  }

  /** A row body exactly as cl_audit renders one, by asking Postgres to render it. */
  async function forgedBody(seq: number, at: string, kind: string, actor: string, data: Record<string, unknown>): Promise<string> {
    const r = rowsOf<{ b: string }>(
      await store.db.raw(
        `select jsonb_build_object('seq', ?::bigint, 'at', ?::text, 'kind', ?::text, 'run_id', ?::text, 'step_id', null, 'actor', ?::text, 'data', ?::jsonb)::text as b`,
        [seq, at, kind, RUN, actor, JSON.stringify(data)],
      ),
    );
    return r[0]!.b;
  }

  it("passes the untouched chain", async () => {
    const rows = await listAuditEvents(store.db);
    expect(await verify()).toEqual({ code: 0, out: `6 rows, head seq 6, head hash ${rows[5]!.hash}: intact\n` });
  });

  it("refuses a plain UPDATE: the trigger is what the superuser has to get past", async () => {
    await expect(store.db.raw("update audit_events set actor = 'mallory' where seq = 1")).rejects.toThrow(/append-only/);
  });

  it("catches an edited data column", async () => {
    await asSuperuser(store, [[`update audit_events set data = '{"approvers":["mallory"],"workflow":"rotate"}' where seq = 1`]]);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toBe("BROKEN at seq 1: data differs from the hashed body");
  });

  it("catches an edited body whose hash was recomputed, at the next row", async () => {
    const row = (await listAuditEvents(store.db)).find((e) => e.seq === 3)!;
    const body = row.body.replace('"worker:w1"', '"worker:evil"');
    expect(body).not.toBe(row.body);
    await asSuperuser(store, [["update audit_events set body = ?, actor = 'worker:evil', hash = ? where seq = 3", [body, auditHash(row.prev_hash, body)]]]);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toBe("BROKEN at seq 4: prev_hash does not match the previous row");
  });

  it("catches a deleted row in the middle", async () => {
    await asSuperuser(store, [["delete from audit_events where seq = 3"]]);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toBe("BROKEN at seq 4: rows 3..3 are missing");
  });

  it("catches deleted rows at the end, through the chain head", async () => {
    await asSuperuser(store, [["delete from audit_events where seq >= 5"]]);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toBe("BROKEN at seq 6: chain head (seq 6) does not match the last row (seq 4)");
  });

  it("catches two rows swapped in order", async () => {
    await asSuperuser(store, [
      ["update audit_events set seq = -3 where seq = 3"],
      ["update audit_events set seq = 3 where seq = 4"],
      ["update audit_events set seq = 4 where seq = -3"],
    ]);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toBe("BROKEN at seq 3: prev_hash does not match the previous row");
    expect(r.out).toMatch(/seq 3: seq differs from the hashed body/);
  });

  it("catches a forged, self-consistent row put in place of a real one", async () => {
    const rows = await listAuditEvents(store.db);
    const prev = rows[1]!;
    const at = "2026-11-29T09:00:00.000000Z";
    const body = await forgedBody(3, at, "approval.granted", "mallory", { reviewId: 999 });
    await asSuperuser(store, [
      ["delete from audit_events where seq = 3"],
      [
        "insert into audit_events (seq, at, kind, run_id, step_id, actor, data, prev_hash, hash, body) values (3, ?, 'approval.granted', ?, null, 'mallory', ?::jsonb, ?, ?, ?)",
        [at, RUN, JSON.stringify({ reviewId: 999 }), prev.hash, auditHash(prev.hash, body), body],
      ],
    ]);
    const r = await verify();
    expect(r.code).toBe(1);
    // The forgery itself hashes correctly; the real row after it no longer links to it.
    expect(r.out.split("\n")[0]).toBe("BROKEN at seq 4: prev_hash does not match the previous row");
    expect(r.out).not.toMatch(/seq 3:/);
  });

  it("catches a forged row appended after the head", async () => {
    const last = (await listAuditEvents(store.db)).at(-1)!;
    const at = "2026-11-29T09:00:00.000000Z";
    const body = await forgedBody(7, at, "run.created", "mallory", {});
    await asSuperuser(store, [
      [
        "insert into audit_events (seq, at, kind, run_id, step_id, actor, data, prev_hash, hash, body) values (7, ?, 'run.created', ?, null, 'mallory', '{}'::jsonb, ?, ?, ?)",
        [at, RUN, last.hash, auditHash(last.hash, body), body],
      ],
    ]);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toBe("BROKEN at seq 6: chain head (seq 6) does not match the last row (seq 7)");
  });

  it("catches a chain rewritten with its head only against a hash recorded earlier", async () => {
    const before = await listAuditEvents(store.db);
    const anchor = `${before[5]!.seq}:${before[5]!.hash}`;
    // Rewrite row 3 and re-chain everything after it, head included: self-consistent.
    const statements: [string, Knex.RawBinding[]][] = [];
    let prevHash = before[1]!.hash;
    for (const row of before.slice(2)) {
      const body = row.seq === 3 ? row.body.replace('"worker:w1"', '"worker:evil"') : row.body;
      const hash = auditHash(prevHash, body);
      statements.push([
        "update audit_events set body = ?, actor = ?, prev_hash = ?, hash = ? where seq = ?",
        [body, row.seq === 3 ? "worker:evil" : row.actor, prevHash, hash, row.seq],
      ]);
      prevHash = hash;
    }
    statements.push(["update audit_head set hash = ? where id = 1", [prevHash]]);
    await asSuperuser(store, statements);
    expect((await verify()).code).toBe(0);
    const r = await verify("--anchor", anchor);
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toMatch(/^BROKEN at seq 6: anchor seq 6 \(--anchor\) says hash [0-9a-f]{64}, the row has [0-9a-f]{64}: the chain was rewritten at or before seq 6$/);
  });
});
