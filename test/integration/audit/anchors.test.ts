/**
 * External anchors: the chain head published as `clutch-luigi/audit` commit statuses
 * on the ops repository's default branch (the local GitHub fake, OpenAPI-checked),
 * read back by `audit verify --anchors-from-github`. A superuser who rewrites the
 * whole chain consistently — every hash recomputed, head included — passes plain
 * verify, and is caught by the anchors published before the rewrite.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Octokit } from "@octokit/rest";
import type { Knex } from "knex";
import { BACKENDS } from "../engine/backends.js";
import type { Store } from "../../../src/store/db.js";
import { appendAudit, auditHash, listAuditEvents } from "../../../src/store/audit.js";
import { chainHead } from "../../../src/store/audit-query.js";
import { AUDIT_STATUS_CONTEXT, anchorCommentLine, anchorDescription, checkAnchors, parseAnchorDescription } from "../../../src/audit/anchor.js";
import { publishAuditAnchor, readAnchorsFromGitHub, type AnchorRepo } from "../../../src/github/audit-anchor.js";
import { executeVerify, parseVerify } from "../../../src/cli/commands/audit/verify.js";
import { startFakeGitHub, type StartedFakeGitHub } from "../../support/github/index.js";
import { FakeGit } from "../../support/github/git.js";
import { FakeStatuses } from "../../support/github/statuses.js";
import { asSuperuser, testIO } from "./support.js";

const RUN = "11111111-2222-4333-8444-555555555555";
const OPS: AnchorRepo = { owner: "acme", repo: "ops", defaultBranch: "main" };

describe("anchor formatting", () => {
  it("writes and reads back exactly `seq N hash H`", () => {
    const head = { seq: 42, hash: "a".repeat(64) };
    expect(anchorDescription(head)).toBe(`seq 42 hash ${"a".repeat(64)}`);
    expect(parseAnchorDescription(anchorDescription(head))).toEqual(head);
    expect(anchorCommentLine(head)).toBe(`Audit chain head: \`seq 42 hash ${"a".repeat(64)}\``);
  });

  it("ignores descriptions that are not exactly an anchor (hostile statuses)", () => {
    for (const text of [
      null,
      "",
      "seq 0 hash " + "a".repeat(64),
      "seq 1 hash " + "A".repeat(64),
      "seq 1 hash " + "a".repeat(63),
      " seq 1 hash " + "a".repeat(64),
      "seq 1 hash " + "a".repeat(64) + " extra",
      "seq 1e3 hash " + "a".repeat(64),
      "seq 9999999999999999 hash " + "a".repeat(64),
      "seq -1 hash " + "a".repeat(64),
    ]) {
      expect(parseAnchorDescription(text)).toBeNull();
    }
    expect(() => anchorDescription({ seq: 0, hash: "" })).toThrow(RangeError);
  });

  it("tells a truncation from a missing row from a rewrite", () => {
    const h = "b".repeat(64);
    const problems = checkAnchors(
      [
        { seq: 9, hash: h, source: "s1" },
        { seq: 2, hash: h, source: "s2" },
        { seq: 3, hash: h, source: "s3" },
        { seq: 4, hash: h, source: "s4" },
      ],
      new Map([[3, "c".repeat(64)], [4, h]]),
      5,
    );
    expect(problems.map((p) => p.message)).toEqual([
      "anchor seq 9 (s1) is past the last row (seq 5): the chain was truncated after it",
      "anchor seq 2 (s2): the anchored row is gone",
      `anchor seq 3 (s3) says hash ${h}, the row has ${"c".repeat(64)}: the chain was rewritten at or before seq 3`,
    ]);
  });
});

describe.each(BACKENDS)("audit verify against anchors published on GitHub ($name)", (backend) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let gh: StartedFakeGitHub;
  let git: FakeGit;
  let statuses: FakeStatuses;
  let client: Octokit;

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
  });
  afterAll(async () => cleanup());

  beforeEach(async () => {
    gh = await startFakeGitHub();
    git = new FakeGit(gh.fake);
    statuses = new FakeStatuses(gh.fake);
    git.createRepo("acme/ops");
    git.commit("acme/ops", { branch: "main", files: { "README.md": "ops\n" }, message: "init" });
    client = new Octokit({ baseUrl: gh.url, auth: "test-token" });
    await asSuperuser(store, [["delete from audit_events"], ["update audit_head set seq = 0, hash = '' where id = 1"]]);
  });
  afterEach(async () => {
    expect(gh.fake.violations).toEqual([]);
    await gh.close();
  });

  async function append(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await store.db.transaction((trx: Knex.Transaction) =>
        appendAudit(trx, [
          { kind: "step.running", runId: RUN, stepId: `s${i}`, actor: "worker:w1", data: { attempt: 1 } },
          { kind: "step.succeeded", runId: RUN, stepId: `s${i}`, actor: "worker:w1", data: { attempt: 1, outputs: [] } },
        ]),
      );
    }
  }

  /** Publish the head, then move the branch on (a PR merged), as the app's periodic anchoring sees it. */
  async function anchorAndMerge(): Promise<void> {
    const published = await publishAuditAnchor(client, OPS, await chainHead(store.db));
    expect(published).not.toBeNull();
    git.commit("acme/ops", { branch: "main", files: { [`requests/${published!.seq}.yaml`]: "x: 1\n" }, message: "merge" });
  }

  async function verify(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = testIO({ GITHUB_API_URL: gh.url });
    const code = await executeVerify(store, parseVerify(argv), io);
    return { code, out: io.out(), err: io.err() };
  }

  /** What a superuser can do: rewrite row `from` and recompute every hash after it, and the head. */
  async function rewriteWholeChain(from: number): Promise<void> {
    const rows = await listAuditEvents(store.db, { limit: 100_000 });
    const statements: [string, Knex.RawBinding[]][] = [];
    let prevHash = "";
    for (const row of rows) {
      const body = row.seq === from ? row.body.replace('"worker:w1"', '"worker:evil"') : row.body;
      const hash = auditHash(prevHash, body);
      statements.push([
        "update audit_events set body = ?, actor = ?, prev_hash = ?, hash = ? where seq = ?",
        [body, row.seq === from ? "worker:evil" : row.actor, prevHash, hash, row.seq],
      ]);
      prevHash = hash;
    }
    statements.push(["update audit_head set hash = ? where id = 1", [prevHash]]);
    await asSuperuser(store, statements);
  }

  it("publishes the head as a clutch-luigi/audit success status on the default branch's head", async () => {
    await append(2);
    const head = await chainHead(store.db);
    const branchHead = git.repos.get("acme/ops")!.branches.get("main")!;
    const published = await publishAuditAnchor(client, OPS, head);
    expect(published).toEqual({ ...head, sha: branchHead });
    expect(statuses.statuses).toMatchObject([{ sha: branchHead, state: "success", context: AUDIT_STATUS_CONTEXT, description: `seq 4 hash ${head.hash}` }]);
    // An empty chain has nothing to anchor: no status is posted.
    await asSuperuser(store, [["delete from audit_events"], ["update audit_head set seq = 0, hash = '' where id = 1"]]);
    expect(await publishAuditAnchor(client, OPS, await chainHead(store.db))).toBeNull();
    expect(statuses.statuses).toHaveLength(1);
  });

  it("reads every anchor across the branch history, newest first", async () => {
    for (let i = 0; i < 3; i++) {
      await append(1);
      await anchorAndMerge();
    }
    const read = await readAnchorsFromGitHub(client, OPS);
    expect(read.anchors.map((a) => a.seq)).toEqual([6, 4, 2]);
    expect(read.truncated).toBe(false);
    const bounded = await readAnchorsFromGitHub(client, OPS, { maxCommits: 2 });
    expect(bounded.anchors.map((a) => a.seq)).toEqual([6]);
    expect(bounded.truncated).toBe(true);
    const r = await verify("--anchors-from-github", "acme/ops");
    expect(r.code).toBe(0);
    expect(r.out).toBe(`6 rows, head seq 6, head hash ${(await chainHead(store.db)).hash}: intact\n3 anchors match\n`);
    expect(r.err).toBe("3 anchors on acme/ops@main (4 commits read)\n");
  });

  it("catches a whole chain rewritten as a superuser would, which plain verify calls intact", async () => {
    await append(2);
    await anchorAndMerge(); // seq 4
    await append(2);
    await anchorAndMerge(); // seq 8
    await append(1);
    await rewriteWholeChain(3);
    const plain = await verify();
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/^10 rows, head seq 10, head hash [0-9a-f]{64}: intact\n$/);
    const r = await verify("--anchors-from-github", "acme/ops");
    expect(r.code).toBe(1);
    const lines = r.out.split("\n");
    expect(lines[0]).toMatch(
      /^BROKEN at seq 4: anchor seq 4 \(status on acme\/ops@[0-9a-f]{12} by clutch-luigi\[bot\] at 2026-12-01T00:00:01Z\) says hash [0-9a-f]{64}, the row has [0-9a-f]{64}: the chain was rewritten at or before seq 4$/,
    );
    expect(lines[1]).toMatch(/^ {2}also seq 8: anchor seq 8 \(status on acme\/ops@[0-9a-f]{12} by clutch-luigi\[bot\] at 2026-12-01T00:00:02Z\) says hash/);
  });

  it("catches a truncation after an anchor, which plain verify calls intact", async () => {
    await append(3);
    await anchorAndMerge(); // seq 6
    const rows = await listAuditEvents(store.db);
    // Cut the last three rows and point the head at the new last row: self-consistent.
    await asSuperuser(store, [["delete from audit_events where seq > 3"], ["update audit_head set seq = 3, hash = ? where id = 1", [rows[2]!.hash]]]);
    expect((await verify()).code).toBe(0);
    const r = await verify("--anchors-from-github", "acme/ops");
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toMatch(/^BROKEN at seq 6: anchor seq 6 \(status on acme\/ops@[0-9a-f]{12} by clutch-luigi\[bot\] at [^)]+\) is past the last row \(seq 3\): the chain was truncated after it$/);
  });

  it("a status forged by someone else is ignored with --anchor-creator, and can only fail verification without it", async () => {
    await append(1);
    await anchorAndMerge();
    statuses.poster = "mallory";
    const sha = git.repos.get("acme/ops")!.branches.get("main")!;
    await client.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner: "acme", repo: "ops", sha, state: "success", context: AUDIT_STATUS_CONTEXT, description: `seq 1 hash ${"0".repeat(64)}` });
    // Another context, or a description that is not an anchor, is no anchor at all.
    await client.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner: "acme", repo: "ops", sha, state: "success", context: "ci/build", description: `seq 1 hash ${"0".repeat(64)}` });
    await client.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner: "acme", repo: "ops", sha, state: "success", context: AUDIT_STATUS_CONTEXT, description: "all good, trust me" });
    const trusted = await verify("--anchors-from-github", "acme/ops", "--anchor-creator", "clutch-luigi[bot]");
    expect(trusted.code).toBe(0);
    expect(trusted.out).toContain("1 anchor match\n");
    const all = await verify("--anchors-from-github", "acme/ops");
    expect(all.code).toBe(1);
    expect(all.out).toMatch(/^BROKEN at seq 1: anchor seq 1 \(status on acme\/ops@[0-9a-f]{12} by mallory at /);
  });

  it("archiving: after old rows move to cold storage, verify --after the archive's last row checks the hand-off", async () => {
    await append(3);
    const rows = await listAuditEvents(store.db);
    const archivedLast = rows[3]!; // seq 4: rows 1..4 go to the archive
    await asSuperuser(store, [["delete from audit_events where seq <= 4"]]);
    const plain = await verify();
    expect(plain.code).toBe(1);
    expect(plain.out.split("\n")[0]).toBe("BROKEN at seq 5: rows 1..4 are missing");
    const handOff = await verify("--after", `4:${archivedLast.hash}`);
    expect(handOff.code).toBe(0);
    expect(handOff.out).toMatch(/^2 rows, head seq 6, head hash [0-9a-f]{64}: intact\n$/);
    const wrong = await verify("--after", `4:${"0".repeat(64)}`);
    expect(wrong.code).toBe(1);
    expect(wrong.out.split("\n")[0]).toBe("BROKEN at seq 5: prev_hash does not match the previous row");
  });

  it("refuses bad options before touching GitHub", () => {
    for (const [argv, message] of [
      [["--anchors-from-github", "acme"], /OWNER\/REPO/],
      [["--anchors-from-github", "acme/ops/x"], /OWNER\/REPO/],
      [["--branch", "main"], /goes with --anchors-from-github/],
      [["--anchors-from-github", "acme/ops", "--max-commits", "0"], /positive number/],
      [["--anchors-from-github", "acme/ops", "--max-commits", "1e9"], /positive number/],
      [["--anchor", "99999999999999999:" + "a".repeat(64)], /SEQ:HASH/],
    ] as const) {
      expect(() => parseVerify([...argv])).toThrow(message);
    }
  });
});
