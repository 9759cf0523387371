import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Knex } from "knex";
import { appendAudit, listAuditEvents, verifyAuditChain } from "../../../src/store/audit.js";
import { BACKENDS } from "../engine/backends.js";
import type { Store } from "../../../src/store/db.js";

describe.each(BACKENDS)("audit chain on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => cleanup());

  it("links appended rows and verifies them", async () => {
    await store.db.transaction(async (trx: Knex.Transaction) => {
      await appendAudit(trx, { kind: "test.one", actor: "alice", data: { b: 1, a: [1, "x"] } });
      await appendAudit(trx, [
        { kind: "test.two", actor: "bob" },
        { kind: "test.three", actor: "bob", stepId: "s1", data: { nested: { z: 1, y: null } } },
      ]);
    });
    const rows = await listAuditEvents(store.db);
    expect(rows.map((r) => r.kind)).toEqual(["test.one", "test.two", "test.three"]);
    expect(rows[1]!.prev_hash).toBe(rows[0]!.hash);
    expect(rows[0]!.prev_hash).toBe("");
    const verdict = await verifyAuditChain(store.db);
    expect(verdict).toMatchObject({ ok: true, count: 3, headSeq: 3 });
  });

  it("rolls the audit back with the transaction it belongs to", async () => {
    await expect(
      store.db.transaction(async (trx: Knex.Transaction) => {
        await appendAudit(trx, { kind: "test.doomed", actor: "alice" });
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    const rows = await listAuditEvents(store.db);
    expect(rows.some((r) => r.kind === "test.doomed")).toBe(false);
    expect((await verifyAuditChain(store.db)).ok).toBe(true);
  });

  it("refuses in-place edits and detects a forged row", async () => {
    await expect(store.db.raw("update audit_events set actor = 'mallory' where seq = 1")).rejects.toThrow(/append-only/);
    // Someone with table-owner rights can drop the trigger; the chain still shows it.
    await store.db.raw("alter table audit_events disable trigger audit_events_no_update");
    await store.db.raw("update audit_events set actor = 'mallory' where seq = 2");
    await store.db.raw("alter table audit_events enable trigger audit_events_no_update");
    const verdict = await verifyAuditChain(store.db);
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toContainEqual({ seq: 2, message: "actor differs from the hashed body" });
  });

  it("detects a rewritten body even when its hash was recomputed", async () => {
    await store.db.raw("alter table audit_events disable trigger audit_events_no_update");
    const row = (await listAuditEvents(store.db)).find((r) => r.seq === 3)!;
    const forged = row.body.replace('"bob"', '"mallory"');
    const { auditHash } = await import("../../../src/store/audit.js");
    await store.db.raw("update audit_events set body = ?, actor = 'mallory', hash = ? where seq = 3", [forged, auditHash(row.prev_hash, forged)]);
    await store.db.raw("alter table audit_events enable trigger audit_events_no_update");
    const verdict = await verifyAuditChain(store.db);
    // the forged row is self-consistent, but what came after it (here the chain head) no longer links
    expect(verdict.ok).toBe(false);
    expect(verdict.problems.map((p) => p.message)).toContainEqual(expect.stringMatching(/chain head \(seq 3\) does not match/));
  });

  it("keeps one chain under concurrent appenders", async () => {
    const before = (await listAuditEvents(store.db, { limit: 100_000 })).length;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.db.transaction(async (trx: Knex.Transaction) => {
          await appendAudit(trx, [{ kind: "race", actor: `w${i}`, data: { i } }, { kind: "race", actor: `w${i}`, data: { i, n: 2 } }]);
        }),
      ),
    );
    const rows = await listAuditEvents(store.db, { limit: 100_000 });
    expect(rows.length).toBe(before + 40);
    const seqs = rows.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    for (let i = 1; i < rows.length; i++) if (rows[i]!.seq > 4) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
  });
});
