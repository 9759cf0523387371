/**
 * Pull requests over the fake git store: a PR is a base branch and a head
 * commit; its files are the diff between the merge base and the head, its
 * commits are those pushed to it, and its reviews carry the commit they were
 * given on. Also collaborator permissions, which decide whose approval counts.
 */
import type { FakeGit } from "./git.js";
import { pageOf } from "./paging.js";
import type { FakeGitHub, FakeRequest, FakeResponse } from "./server.js";

export interface FakeUser {
  login: string;
  type: "User" | "Bot" | "Organization";
}

export interface FakeReview {
  id: number;
  user: FakeUser;
  state: "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED" | "DISMISSED" | "PENDING";
  commitId: string;
  submittedAt: string;
}

export interface FakePull {
  owner: string;
  repo: string;
  number: number;
  author: FakeUser;
  title: string;
  body: string | null;
  labels: string[];
  baseRef: string;
  /** The base branch head when the PR was opened or last retargeted (GitHub's `base.sha`). */
  mergeBase: string;
  headRef: string;
  headSha: string;
  /** Commits pushed to the PR, oldest first, with who pushed each. */
  commits: { sha: string; author: FakeUser; committer: FakeUser }[];
  reviews: FakeReview[];
  /** Issue events of the PR (only changes of its base branch are modelled). */
  events: { id: number; event: "base_ref_changed" | "base_ref_force_pushed"; actor: FakeUser; createdAt: string }[];
  /** Set once the PR merged: the API then answers closed, merged, with this merge commit. */
  merged?: { sha: string; at: string };
  /** Closed without merging. */
  closed?: boolean;
  /** The head branch lives in this other repository (a fork), `owner/repo`. */
  fork?: string;
}

const notFound: FakeResponse = { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };

export class FakePulls {
  readonly pulls = new Map<string, FakePull>();
  /** `owner/repo` → login (lower-case) → permission. */
  readonly permissions = new Map<string, Map<string, string>>();
  private nextNumber = 1;
  private nextReview = 80;
  private clock = Date.parse("2026-11-28T10:00:00Z");

  constructor(
    private readonly fake: FakeGitHub,
    private readonly git: FakeGit,
  ) {
    fake.route("GET /repos/{owner}/{repo}/pulls/{pull_number}", ({ params }) => {
      const p = this.find(params);
      return p ? { status: 200, body: this.toApi(p) } : notFound;
    });
    fake.route("GET /repos/{owner}/{repo}/pulls/{pull_number}/files", ({ params, query }) => {
      const p = this.find(params);
      return p ? { status: 200, body: pageOf(this.files(p), query) } : notFound;
    });
    fake.route("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", ({ params, query }) => {
      const p = this.find(params);
      if (!p) return notFound;
      return { status: 200, body: pageOf(p.reviews.map((r) => this.reviewToApi(p, r)), query) };
    });
    fake.route("GET /repos/{owner}/{repo}/pulls/{pull_number}/commits", ({ params, query }) => {
      const p = this.find(params);
      if (!p) return notFound;
      // GitHub lists at most 250 commits of a pull request.
      return { status: 200, body: pageOf(p.commits.slice(0, 250).map((c) => this.commitToApi(p, c)), query) };
    });
    fake.route("GET /repos/{owner}/{repo}/issues/{issue_number}/events", ({ params, query }) => {
      const p = this.pulls.get(`${params.owner}/${params.repo}#${params.issue_number}`.toLowerCase());
      if (!p) return notFound;
      return { status: 200, body: pageOf(p.events.map((e) => this.eventToApi(p, e)), query) };
    });
    fake.route("GET /repos/{owner}/{repo}/collaborators/{username}/permission", ({ params }) => {
      const perm = this.permissions.get(`${params.owner}/${params.repo}`.toLowerCase())?.get(params.username!.toLowerCase());
      if (!perm) return notFound;
      const user = { ...this.user({ login: params.username!, type: "User" }), permissions: { admin: perm === "admin", maintain: perm === "admin", push: perm === "admin" || perm === "write", triage: perm !== "read", pull: true }, role_name: perm };
      return { status: 200, body: { permission: perm, role_name: perm, user } };
    });
  }

  /** Opens a PR whose single commit applies `files` on top of the base branch head. */
  open(fullName: string, opts: { author: FakeUser; files: Record<string, string | Buffer | null>; baseRef?: string; body?: string | null; labels?: string[]; title?: string; headSha?: string; fork?: string }): FakePull {
    const [owner, repo] = fullName.split("/") as [string, string];
    const baseRef = opts.baseRef ?? "main";
    const r = this.git.repo(owner, repo);
    const mergeBase = r?.branches.get(baseRef);
    if (!r || !mergeBase) throw new Error(`no branch ${baseRef} in ${fullName}`);
    const number = this.nextNumber++;
    const headRef = `pr-${number}`;
    // `headSha`: an existing commit (imported from a real repository) becomes the head.
    const headSha = opts.headSha ?? this.git.commit(fullName, { parent: mergeBase, files: opts.files, author: opts.author.login, message: `request #${number}` });
    const p: FakePull = {
      owner,
      repo,
      number,
      author: opts.author,
      title: opts.title ?? `Pull request ${number}`,
      body: opts.body ?? null,
      labels: opts.labels ?? [],
      baseRef,
      mergeBase,
      headRef,
      headSha,
      commits: [{ sha: headSha, author: opts.author, committer: opts.author }],
      reviews: [],
      events: [],
      ...(opts.fork ? { fork: opts.fork } : {}),
    };
    this.pulls.set(`${fullName}#${number}`.toLowerCase(), p);
    return p;
  }

  /** Pushes a commit to the PR (by the author unless `by` says otherwise). */
  push(p: FakePull, files: Record<string, string | Buffer | null>, by?: FakeUser): string {
    const pusher = by ?? p.author;
    p.headSha = this.git.commit(`${p.owner}/${p.repo}`, { parent: p.headSha, files, author: pusher.login });
    p.commits.push({ sha: p.headSha, author: pusher, committer: pusher });
    return p.headSha;
  }

  /**
   * "Update branch": merges the base branch's head into the PR, as a merge
   * commit whose tree takes each path from whichever side changed it since
   * their merge base. Throws on a conflict, which the tests never need.
   */
  mergeBaseBranch(p: FakePull, by?: FakeUser): string {
    const full = `${p.owner}/${p.repo}`;
    const r = this.git.repo(p.owner, p.repo)!;
    const baseHead = r.branches.get(p.baseRef)!;
    const mb = this.git.mergeBase(r, baseHead, p.headSha)!;
    const [anc, ours, theirs] = [mb, p.headSha, baseHead].map((s) => r.commits.get(s)!.tree);
    const files: Record<string, Buffer | null> = {};
    for (const path of new Set([...anc!.keys(), ...ours!.keys(), ...theirs!.keys()])) {
      const [a, o, t] = [anc!.get(path), ours!.get(path), theirs!.get(path)];
      if (o === t || t === a) continue;
      if (o !== a) throw new Error(`merge conflict on ${path}`);
      files[path] = t === undefined ? null : r.blobs.get(t)!;
    }
    const pusher = by ?? p.author;
    p.headSha = this.git.commit(full, { parent: p.headSha, mergeParent: baseHead, files, author: pusher.login, message: `Merge branch '${p.baseRef}' into ${p.headRef}` });
    p.commits.push({ sha: p.headSha, author: pusher, committer: pusher });
    return p.headSha;
  }

  /** Changes the PR's base branch, recording GitHub's `base_ref_changed` event a minute after the last review or event. */
  retarget(p: FakePull, baseRef: string, by?: FakeUser): void {
    const r = this.git.repo(p.owner, p.repo)!;
    const head = r.branches.get(baseRef);
    if (!head) throw new Error(`no branch ${baseRef}`);
    p.baseRef = baseRef;
    p.mergeBase = head;
    this.event(p, "base_ref_changed", by ?? p.author);
  }

  /** Moves a branch to any commit (a force-push), recording `base_ref_force_pushed` on each PR that targets it. */
  forcePush(fullName: string, branch: string, sha: string, by: FakeUser): void {
    const r = this.git.repo(...(fullName.split("/") as [string, string]))!;
    r.branches.set(branch, sha);
    for (const p of this.pulls.values()) if (`${p.owner}/${p.repo}`.toLowerCase() === fullName.toLowerCase() && p.baseRef === branch) this.event(p, "base_ref_force_pushed", by);
  }

  private event(p: FakePull, event: FakePull["events"][number]["event"], actor: FakeUser): void {
    this.clock += 60_000;
    p.events.push({ id: 9000 + p.events.length, event, actor, createdAt: new Date(this.clock).toISOString().replace(/\.000Z$/, "Z") });
  }

  /** A review on the current head (or on `commitId`), submitted a minute after the previous one. */
  review(p: FakePull, user: FakeUser | string, state: FakeReview["state"], commitId?: string): FakeReview {
    const u = typeof user === "string" ? { login: user, type: "User" as const } : user;
    this.clock += 60_000;
    const r: FakeReview = { id: this.nextReview++, user: u, state, commitId: commitId ?? p.headSha, submittedAt: new Date(this.clock).toISOString().replace(/\.000Z$/, "Z") };
    p.reviews.push(r);
    return r;
  }

  /** GitHub merged the PR at `sha` (a commit already on the base branch). */
  markMerged(p: FakePull, sha: string): void {
    this.clock += 60_000;
    p.merged = { sha, at: new Date(this.clock).toISOString().replace(/\.000Z$/, "Z") };
  }

  setPermission(fullName: string, login: string, permission: "admin" | "write" | "read" | "none"): void {
    let m = this.permissions.get(fullName.toLowerCase());
    if (!m) this.permissions.set(fullName.toLowerCase(), (m = new Map()));
    m.set(login.toLowerCase(), permission);
  }

  private find(params: FakeRequest["params"]): FakePull | undefined {
    return this.pulls.get(`${params.owner}/${params.repo}#${params.pull_number}`.toLowerCase());
  }

  /** The PR's files as GitHub lists them: the merge base against the head, by path. */
  files(p: FakePull): Record<string, unknown>[] {
    const r = this.git.repo(p.owner, p.repo)!;
    // GitHub diffs a PR three-dot: from the merge base of the base branch as it is now and the head.
    // Once merged, GitHub keeps listing the change as it was merged: against the base
    // branch as it stood before the merge commit (its first parent), not against a base
    // that now contains the head.
    // (A "merge commit" that never reached the base branch changed nothing there.)
    const tip = r.branches.get(p.baseRef) ?? p.mergeBase;
    const mergedIntoBase = p.merged !== undefined && this.git.ancestors(r, tip).has(p.merged.sha);
    const baseTip = mergedIntoBase ? (r.commits.get(p.merged!.sha)?.parents[0] ?? p.mergeBase) : tip;
    const mergeBase = this.git.mergeBase(r, baseTip, p.headSha) ?? p.mergeBase;
    const before = r.commits.get(mergeBase)!.tree;
    const after = r.commits.get(p.headSha)!.tree;
    const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
    const out: Record<string, unknown>[] = [];
    // Exact renames, as git detects them: a removed path whose blob reappears at an added one.
    const removedBySha = new Map<string, string>();
    for (const path of paths) if (!after.has(path)) removedBySha.set(before.get(path)!, path);
    const renamedFrom = new Map<string, string>();
    for (const path of paths) {
      const from = before.has(path) ? undefined : removedBySha.get(after.get(path)!);
      if (from !== undefined && ![...renamedFrom.values()].includes(from)) renamedFrom.set(path, from);
    }
    const consumed = new Set(renamedFrom.values());
    for (const path of paths) {
      const a = before.get(path);
      const b = after.get(path);
      if (a === b || consumed.has(path)) continue;
      const previous = renamedFrom.get(path);
      const status = previous !== undefined ? "renamed" : a === undefined ? "added" : b === undefined ? "removed" : "modified";
      const sha = (b ?? a)!;
      const base = `https://github.com/${p.owner}/${p.repo}`;
      out.push({
        sha,
        filename: path,
        status,
        ...(previous !== undefined ? { previous_filename: previous } : {}),
        additions: 1,
        deletions: status === "added" ? 0 : 1,
        changes: status === "modified" ? 2 : 1,
        blob_url: `${base}/blob/${p.headSha}/${path}`,
        raw_url: `${base}/raw/${p.headSha}/${path}`,
        contents_url: `${this.fake.url}/repos/${p.owner}/${p.repo}/contents/${path}?ref=${p.headSha}`,
      });
    }
    return out;
  }

  user(u: FakeUser): Record<string, unknown> {
    // A GitHub App's bot account lives under /apps/<slug>; `[bot]` is not part of a URL.
    const html = u.login.endsWith("[bot]") ? `https://github.com/apps/${u.login.slice(0, -5)}` : `https://github.com/${u.login}`;
    return this.fake.api.sample("simple-user", { login: u.login, type: u.type, html_url: html });
  }

  private toApi(p: FakePull): Record<string, unknown> {
    const api = this.fake.api;
    const r = this.git.repo(p.owner, p.repo)!;
    const repository = api.sample("repository", { name: p.repo, full_name: `${p.owner}/${p.repo}`, owner: this.user({ login: p.owner, type: "Organization" }), default_branch: r.defaultBranch });
    const side = (ref: string, sha: string) => ({ label: `${p.owner}:${ref}`, ref, sha, repo: repository, user: this.user({ login: p.owner, type: "Organization" }) });
    // A fork's head: another repository (GitHub still serves its commits from the base repository).
    const [forkOwner, forkName] = (p.fork ?? "").split("/") as [string, string];
    const forkRepo = p.fork
      ? api.sample("repository", { id: 999_000 + p.number, name: forkName, full_name: p.fork, fork: true, owner: this.user({ login: forkOwner, type: "User" }), default_branch: "main" })
      : undefined;
    const head = forkRepo ? { label: `${forkOwner}:${p.headRef}`, ref: p.headRef, sha: p.headSha, repo: forkRepo, user: this.user({ login: forkOwner, type: "User" }) } : side(p.headRef, p.headSha);
    return api.sample("pull-request", {
      number: p.number,
      state: p.merged || p.closed ? "closed" : "open",
      merged: p.merged !== undefined,
      merge_commit_sha: p.merged?.sha ?? null,
      merged_at: p.merged?.at ?? null,
      closed_at: p.merged?.at ?? null,
      title: p.title,
      body: p.body,
      user: this.user(p.author),
      labels: p.labels.map((name, i) => ({ id: i + 1, node_id: `LA_${i}`, url: `${this.fake.url}/repos/${p.owner}/${p.repo}/labels/${name}`, name, description: null, color: "ededed", default: false })),
      head,
      base: side(p.baseRef, p.mergeBase),
      changed_files: this.files(p).length,
      commits: p.commits.length,
    });
  }

  private eventToApi(p: FakePull, e: FakePull["events"][number]): Record<string, unknown> {
    return {
      id: e.id,
      node_id: `BRCE_${e.id}`,
      url: `${this.fake.url}/repos/${p.owner}/${p.repo}/issues/events/${e.id}`,
      actor: this.user(e.actor),
      event: e.event,
      commit_id: null,
      commit_url: null,
      created_at: e.createdAt,
      performed_via_github_app: null,
      // GitHub's description has no variant for base_ref_changed; the locked-event one,
      // whose only extra field is a nullable lock_reason, is the one a plain event fits.
      lock_reason: null,
    };
  }

  private reviewToApi(p: FakePull, r: FakeReview): Record<string, unknown> {
    return this.fake.api.sample("pull-request-review", {
      id: r.id,
      user: this.user(r.user),
      body: "",
      state: r.state,
      commit_id: r.commitId,
      submitted_at: r.submittedAt,
      html_url: `https://github.com/${p.owner}/${p.repo}/pull/${p.number}#pullrequestreview-${r.id}`,
      pull_request_url: `${this.fake.url}/repos/${p.owner}/${p.repo}/pulls/${p.number}`,
    });
  }

  private commitToApi(p: FakePull, c: FakePull["commits"][number]): Record<string, unknown> {
    const person = (u: FakeUser) => ({ name: u.login, email: `${u.login}@users.noreply.github.com`, date: "2026-11-28T10:00:00Z" });
    return this.fake.api.sample("commit", {
      sha: c.sha,
      url: `${this.fake.url}/repos/${p.owner}/${p.repo}/commits/${c.sha}`,
      html_url: `https://github.com/${p.owner}/${p.repo}/commit/${c.sha}`,
      author: this.user(c.author),
      committer: this.user(c.committer),
      commit: { author: person(c.author), committer: person(c.committer), message: "change", tree: { sha: this.git.repo(p.owner, p.repo)?.commits.get(c.sha)?.treeSha ?? c.sha, url: "https://api.github.com/" } },
      parents: [],
    });
  }
}
