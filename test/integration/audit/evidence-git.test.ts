/**
 * A run's evidence checked against git itself: the test builds a real
 * repository with the `git` CLI (base commit with the control plane, a PR
 * commit adding a request, a merge commit), serves exactly those commits from
 * the GitHub fake, merges through the app's merge path, and then runs every
 * command `audit show --json` prints in the real repository and compares.
 */
import { execFileSync, execSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultRegistry } from "../../../src/actions/index.js";
import { executeShow, parseShow } from "../../../src/cli/commands/audit/show.js";
import type { RunDocument } from "../../../src/audit/story.js";
import { evaluateAndPublish } from "../../../src/github/handlers/evaluate-handler.js";
import { handleMerge } from "../../../src/github/handlers/merge-handler.js";
import { openStore, type Store } from "../../../src/store/db.js";
import { fixture, startWorld, type World } from "../github/world.js";
import { testIO } from "./support.js";

const REPO = "acme/audited";
const REQUEST = "requests/2026/restart-checkout.yaml";
const OPS = path.resolve(import.meta.dirname, "../../fixtures/github/ops-repo");

let dir: string;
let w: World;
let store: Store;

const git = (...args: string[]): string => execFileSync("git", args, { cwd: dir, encoding: "utf8" }).trim();

function copyTree(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    const src = path.join(from, name);
    const dst = path.join(to, name);
    if (statSync(src).isDirectory()) {
      mkdirSync(dst, { recursive: true });
      copyTree(src, dst);
    } else writeFileSync(dst, readFileSync(src));
  }
}

/** A commit of the real repository as the fake stores it: same SHA, parents and blobs. */
function importCommit(sha: string, branch?: string): void {
  const parents = git("rev-list", "--parents", "-n", "1", sha).split(" ").slice(1);
  const files: Record<string, Buffer> = {};
  for (const line of git("ls-tree", "-r", sha).split("\n")) {
    const [meta, file] = line.split("\t") as [string, string];
    const blob = meta.split(" ")[2]!;
    files[file] = execFileSync("git", ["cat-file", "blob", blob], { cwd: dir });
  }
  w.git.importCommit(REPO, { sha, parents, files, ...(branch ? { branch } : {}) });
}

let base: string;
let head: string;
let merge: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cl-evidence-git-"));
  git("init", "-q", "-b", "main");
  git("config", "user.email", "ops@example.com");
  git("config", "user.name", "Ops");
  git("config", "commit.gpgsign", "false");
  copyTree(OPS, dir);
  git("add", "-A");
  git("commit", "-q", "-m", "ops repository");
  base = git("rev-parse", "HEAD");
  git("checkout", "-q", "-b", "pr-1");
  mkdirSync(path.join(dir, "requests/2026"), { recursive: true });
  writeFileSync(path.join(dir, REQUEST), fixture("requests/restart-checkout.yaml"));
  git("add", "-A");
  git("commit", "-q", "-m", "request");
  head = git("rev-parse", "HEAD");
  git("checkout", "-q", "main");
  git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "pr-1");
  merge = git("rev-parse", "HEAD");

  w = await startWorld();
  w.git.createRepo(REPO);
  for (const login of ["sam", "alice", "paula"]) w.pulls.setPermission(REPO, login, "write");
  importCommit(base, "main");
  importCommit(head);
  store = await openStore({ dataDir: ":memory:", encryptionKey: Buffer.alloc(32, 7).toString("base64") });
}, 60_000);

afterAll(async () => {
  await store?.close();
  await w?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(w.fake.violations.splice(0)).toEqual([]);
});

describe("audit show --json against a real git repository", () => {
  let doc: RunDocument;

  it("a run merged through the app carries evidence that names the real commits and blobs", async () => {
    const deps = { store, registry: defaultRegistry() };
    const p = w.pulls.open(REPO, { author: { login: "alice", type: "User" }, files: {}, headSha: head });
    const review = w.pulls.review(p, "sam", "APPROVED");
    await evaluateAndPublish(deps, w.octokit, { owner: "acme", repo: "audited", pullNumber: p.number }, { actor: "sam" });
    importCommit(merge, "main");
    w.pulls.markMerged(p, merge);
    const outcome = await handleMerge(deps, w.octokit, { owner: "acme", repo: "audited", pullNumber: p.number }, { actor: "sam" });
    expect(outcome).toMatchObject({ kind: "started", created: true });
    const runId = (outcome as { runId: string }).runId;

    const io = testIO();
    expect(await executeShow(store, parseShow([runId, "--json"]), io)).toBe(0);
    doc = JSON.parse(io.out()) as RunDocument;
    expect(doc.runId).toBe(runId);
    expect(doc.evidence).toMatchObject({
      repository: REPO,
      pullRequest: p.number,
      headSha: head,
      mergeCommit: merge,
      request: { path: REQUEST, blobSha: git("rev-parse", `${merge}:${REQUEST}`) },
      authority: {
        baseSha: base,
        workflow: [{ path: "workflows/restart-service.yaml", sha: git("rev-parse", `${base}:workflows/restart-service.yaml`) }],
        policy: { path: ".github/clutch-luigi.yml", sha: git("rev-parse", `${base}:.github/clutch-luigi.yml`) },
        codeowners: { path: ".github/CODEOWNERS", sha: git("rev-parse", `${base}:.github/CODEOWNERS`) },
      },
      approvals: [
        { login: "sam", reviewId: review.id, commit: head, submittedAt: review.submittedAt, rules: expect.arrayContaining([{ rule: "codeowners:5", via: "@acme/sre" }]) },
      ],
    });
    expect(typeof (doc.evidence!.approvals as { userId: unknown }[])[0]!.userId).toBe("number");
    expect(doc.created?.data.evidence).toEqual(doc.evidence);
    expect(doc.outcome.state).toBeTypeOf("string");
    expect(doc.events.map((e) => e.kind)).toContain("run.created");

    // The text story shows the same evidence.
    const text = testIO();
    expect(await executeShow(store, parseShow([runId]), text)).toBe(0);
    expect(text.out()).toContain(`request       ${REQUEST} blob ${git("rev-parse", `${merge}:${REQUEST}`)}`);
    expect(text.out()).toMatch(new RegExp(`approval +sam \\(id \\d+\\) review ${review.id} on ${head} at ${review.submittedAt}: .*codeowners:5 via @acme/sre`));
  });

  it("every git command it prints gives the recorded value in the real repository", () => {
    const commands = doc.git.map((c) => c.command);
    expect(commands).toContain(`git show ${merge}:${REQUEST} | git hash-object --stdin`);
    expect(commands.some((c) => c.startsWith("git cat-file -p "))).toBe(true);
    expect(doc.git.length).toBeGreaterThanOrEqual(10);
    for (const check of doc.git) {
      const out = execSync(check.command, { cwd: dir, encoding: "utf8", shell: "/bin/sh" }).trim().split(/\s+/)[0];
      expect({ what: check.what, out }).toEqual({ what: check.what, out: check.expect });
    }
    // And the sha256 recorded is the content's, computed here independently.
    expect((doc.evidence!.request as { sha256: string }).sha256).toBe(
      execSync(`git show ${merge}:${REQUEST} | sha256sum`, { cwd: dir, encoding: "utf8", shell: "/bin/sh" }).split(" ")[0],
    );
  });

  it("the same commands expose evidence that does not match the repository", () => {
    const forged = doc.git.find((c) => c.command.includes("hash-object") && c.command.startsWith("git show"))!;
    // Pointed at the base commit, where the request does not exist, the check gives another value.
    const other = execSync(`(${forged.command.replace(merge, base)}) 2>/dev/null`, { cwd: dir, encoding: "utf8", shell: "/bin/sh" }).trim();
    expect(other).toMatch(/^[0-9a-f]{40}$/);
    expect(other).not.toBe(forged.expect);
    const wf = doc.git.find((c) => c.command.startsWith(`git rev-parse ${base}:workflows/`))!;
    writeFileSync(path.join(dir, "workflows/restart-service.yaml"), "changed\n");
    git("commit", "-q", "-am", "workflow changed later");
    expect(git("rev-parse", "HEAD:workflows/restart-service.yaml")).not.toBe(wf.expect);
  });
});
