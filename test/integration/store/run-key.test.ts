/**
 * One run per request (migration 004): a second create for the same
 * (repository, PR, request path) returns the first run whatever merge commit
 * it names, and the migration keys existing rows without failing on the
 * duplicates that replayed merges used to create.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtinActions } from "../../../src/actions/index.js";
import { ActionRegistry } from "../../../src/actions/registry.js";
import { rowsOf, type Store } from "../../../src/store/db.js";
import * as m004 from "../../../src/store/migrations/004_run_key.js";
import { CannotStartRun, createRun, findPullRequestRun, requestKey } from "../../../src/store/runs.js";
import { BACKENDS } from "../engine/backends.js";
import { IDENTITY, loadWorkflow, request } from "../engine/harness.js";

const registry = new ActionRegistry(builtinActions());

describe.each(BACKENDS)("run keys on $name", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => cleanup?.());

  const start = (pr: number, commit: string, path = "requests/a.yaml") => {
    const workflow = loadWorkflow("parallel.yaml");
    return createRun(store, {
      ...IDENTITY,
      pullRequest: pr,
      commit,
      workflow,
      request: request(workflow),
      requestPath: path,
      registry,
      idempotencyKey: `acme/ops#${pr}@${commit}`,
      requestKey: requestKey("acme/ops", pr, path),
    });
  };

  it("a second merge commit for the same request finds the first run", async () => {
    const first = await start(41, "a".repeat(40));
    const second = await start(41, "b".repeat(40));
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ runId: first.runId, created: false });
    expect(await findPullRequestRun(store, "acme/ops", 41)).toMatchObject({ runId: first.runId, requestPath: "requests/a.yaml" });
    // A repository whose name is a prefix (acme/ops#4…) or holds LIKE wildcards is not matched.
    expect(await findPullRequestRun(store, "acme/ops", 4)).toBeNull();
    expect(await findPullRequestRun(store, "acme/op_", 41)).toBeNull();
  });

  it("another PR or another request path is another run", async () => {
    const a = await start(42, "c".repeat(40));
    const b = await start(43, "c".repeat(40));
    expect(new Set([a.runId, b.runId]).size).toBe(2);
    expect(b.created).toBe(true);
  });

  it("a workflow that cannot run is a typed CannotStartRun", async () => {
    const workflow = loadWorkflow("parallel.yaml");
    const bad = { ...workflow, timeout: "999999d" };
    await expect(createRun(store, { ...IDENTITY, workflow: bad, request: request(workflow), requestPath: "requests/x.yaml", registry })).rejects.toBeInstanceOf(CannotStartRun);
  });

  it("the migration keys existing rows, the earliest of duplicates only", async () => {
    await m004.down(store.db);
    // Rows as the schema before 004 held them: two runs of one request, started by two merge events.
    const ids = ["00000000-0000-4000-8000-0000000000d1", "00000000-0000-4000-8000-0000000000d2", "00000000-0000-4000-8000-0000000000d3"];
    const identity = (pr: number | null) => JSON.stringify({ repository: "acme/ops", requester: IDENTITY.requester, approvers: [], ...(pr !== null ? { pullRequest: pr } : {}) });
    const rows: [string, string, string | null, string][] = [
      [ids[0]!, "requests/dup.yaml", identity(50), "2026-11-28T10:00:00Z"],
      [ids[1]!, "requests/dup.yaml", identity(50), "2026-11-28T10:05:00Z"],
      [ids[2]!, "requests/local.yaml", identity(null), "2026-11-28T10:00:00Z"],
    ];
    for (const [id, path, ident, at] of rows) {
      await store.db.raw("insert into runs (id, workflow, request_path, spec, identity, state, steps_left, created_at) values (?, 'w', ?, '{}'::jsonb, ?::jsonb, 'succeeded', 0, ?)", [id, path, ident, at]);
    }
    const dupes = [ids[0]!, ids[1]!];
    const local = ids[2]!;
    await m004.up(store.db);
    const keys = new Map(rowsOf<{ id: string; request_key: string | null }>(await store.db.raw("select id, request_key from runs")).map((r) => [r.id, r.request_key]));
    expect(keys.get(dupes[0]!)).toBe("acme/ops#50:requests/dup.yaml");
    expect(keys.get(dupes[1]!)).toBeNull();
    expect(keys.get(local)).toBeNull();
    expect(keys.get((await findPullRequestRun(store, "acme/ops", 41))!.runId)).toBe("acme/ops#41:requests/a.yaml");
  });
});
