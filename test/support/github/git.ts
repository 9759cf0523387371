/**
 * Repositories as git stores them: blobs named by their real git SHA-1,
 * trees, commits with parents, and branches. Serves the contents API, the
 * git data API (refs, commits, trees, blobs) at any commit and the merge
 * base of a three-dot comparison, so tests can
 * move a branch or push to a PR and see exactly what GitHub would answer.
 */
import { createHash } from "node:crypto";
import type { FakeGitHub, FakeResponse } from "./server.js";

export interface FakeCommit {
  sha: string;
  tree: Map<string, string>;
  treeSha: string;
  parents: string[];
  author: string;
  message: string;
}

export interface FakeRepo {
  owner: string;
  name: string;
  defaultBranch: string;
  branches: Map<string, string>;
  commits: Map<string, FakeCommit>;
  blobs: Map<string, Buffer>;
  trees: Map<string, string>;
}

const notFound: FakeResponse = { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };

export function blobSha(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/** Contents API inlines files up to 1 MB; larger ones come back with encoding "none". */
const INLINE_LIMIT = 1024 * 1024;

export class FakeGit {
  readonly repos = new Map<string, FakeRepo>();
  private counter = 0;

  constructor(private readonly fake: FakeGitHub) {
    fake.route("GET /repos/{owner}/{repo}/git/ref/{ref}", ({ params }) => {
      const r = this.repo(params.owner!, params.repo!);
      const branch = /^heads\/(.+)$/.exec(params.ref!)?.[1];
      const sha = branch ? r?.branches.get(branch) : undefined;
      if (!r || !sha) return notFound;
      return {
        status: 200,
        body: {
          ref: `refs/heads/${branch}`,
          node_id: "REF_x",
          url: `${fake.url}/repos/${r.owner}/${r.name}/git/refs/heads/${branch}`,
          object: { type: "commit", sha, url: `${fake.url}/repos/${r.owner}/${r.name}/git/commits/${sha}` },
        },
      };
    });
    fake.route("GET /repos/{owner}/{repo}/contents/{path}", ({ params, query }) => {
      const r = this.repo(params.owner!, params.repo!);
      if (!r) return notFound;
      const commit = this.resolve(r, query.get("ref") ?? r.defaultBranch);
      if (!commit) return notFound;
      return this.contents(r, commit, params.path!);
    });
    fake.route("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", ({ params }) => {
      const r = this.repo(params.owner!, params.repo!);
      const b = r?.blobs.get(params.file_sha!);
      if (!r || !b) return notFound;
      const url = `${fake.url}/repos/${r.owner}/${r.name}/git/blobs/${params.file_sha}`;
      return { status: 200, body: { sha: params.file_sha, node_id: "BLOB_x", url, size: b.length, content: b.toString("base64"), encoding: "base64" } };
    });
    fake.route("GET /repos/{owner}/{repo}/git/commits/{commit_sha}", ({ params }) => {
      const r = this.repo(params.owner!, params.repo!);
      const c = r?.commits.get(params.commit_sha!);
      if (!r || !c) return notFound;
      const base = `${fake.url}/repos/${r.owner}/${r.name}/git`;
      const person = { name: c.author, email: `${c.author}@users.noreply.github.com`, date: "2026-11-28T10:00:00Z" };
      return {
        status: 200,
        body: {
          sha: c.sha,
          node_id: "COMMIT_x",
          url: `${base}/commits/${c.sha}`,
          html_url: `https://github.com/${r.owner}/${r.name}/commit/${c.sha}`,
          author: person,
          committer: person,
          tree: { sha: c.treeSha, url: `${base}/trees/${c.treeSha}` },
          message: c.message,
          parents: c.parents.map((p) => ({ sha: p, url: `${base}/commits/${p}`, html_url: `https://github.com/${r.owner}/${r.name}/commit/${p}` })),
          verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
        },
      };
    });
    fake.route("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", ({ params, query }) => {
      const r = this.repo(params.owner!, params.repo!);
      const commitSha = r?.trees.get(params.tree_sha!);
      const c = commitSha ? r!.commits.get(commitSha) : undefined;
      if (!r || !c) return notFound;
      // Only the recursive listing is modelled: that is what the app asks for.
      if (!query.get("recursive")) return { status: 422, body: { message: "the fake serves recursive trees only" } };
      const tree = [...c.tree.entries()].sort().map(([path, sha]) => ({
        path,
        mode: "100644",
        type: "blob",
        sha,
        size: r.blobs.get(sha)!.length,
        url: `${fake.url}/repos/${r.owner}/${r.name}/git/blobs/${sha}`,
      }));
      return { status: 200, body: { sha: c.treeSha, url: `${fake.url}/repos/${r.owner}/${r.name}/git/trees/${c.treeSha}`, truncated: false, tree } };
    });
  }

  commitToApi(r: FakeRepo, c: FakeCommit): Record<string, unknown> {
    const base = `${this.fake.url}/repos/${r.owner}/${r.name}`;
    const person = { name: c.author, email: `${c.author}@users.noreply.github.com`, date: "2026-11-28T10:00:00Z" };
    return this.fake.api.sample("commit", {
      sha: c.sha,
      url: `${base}/commits/${c.sha}`,
      html_url: `https://github.com/${r.owner}/${r.name}/commit/${c.sha}`,
      author: null,
      committer: null,
      commit: { author: person, committer: person, message: c.message, tree: { sha: c.treeSha, url: `${base}/git/trees/${c.treeSha}` } },
      parents: c.parents.map((p) => ({ sha: p, url: `${base}/commits/${p}` })),
    });
  }

  createRepo(fullName: string, defaultBranch = "main"): FakeRepo {
    const [owner, name] = fullName.split("/") as [string, string];
    const r: FakeRepo = { owner, name, defaultBranch, branches: new Map(), commits: new Map(), blobs: new Map(), trees: new Map() };
    this.repos.set(fullName.toLowerCase(), r);
    return r;
  }

  repo(owner: string, name: string): FakeRepo | undefined {
    return this.repos.get(`${owner}/${name}`.toLowerCase());
  }

  /**
   * A new commit: `files` over the parent's tree (null deletes a path). With
   * `branch`, the parent is that branch's head and the branch moves to it.
   * `mergeParent` makes it a merge commit with that second parent.
   */
  commit(fullName: string, opts: { branch?: string; parent?: string; files: Record<string, string | Buffer | null>; author?: string; message?: string; mergeParent?: string }): string {
    const r = this.repos.get(fullName.toLowerCase());
    if (!r) throw new Error(`no fake repository ${fullName}`);
    const parent = opts.parent ?? (opts.branch ? r.branches.get(opts.branch) : undefined);
    if (opts.mergeParent !== undefined && !parent) throw new Error("a merge commit needs a first parent");
    const tree = new Map(parent ? r.commits.get(parent)!.tree : []);
    for (const [path, content] of Object.entries(opts.files)) {
      if (content === null) {
        tree.delete(path);
        continue;
      }
      const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, "utf8");
      const sha = blobSha(bytes);
      r.blobs.set(sha, bytes);
      tree.set(path, sha);
    }
    const treeSha = createHash("sha1").update(JSON.stringify([...tree.entries()].sort())).digest("hex");
    const sha = createHash("sha1").update(`${treeSha}:${parent ?? ""}:${++this.counter}`).digest("hex");
    const parents = parent ? [parent, ...(opts.mergeParent !== undefined ? [opts.mergeParent] : [])] : [];
    r.commits.set(sha, { sha, tree, treeSha, parents, author: opts.author ?? "octocat", message: opts.message ?? "change" });
    r.trees.set(treeSha, sha);
    if (opts.branch) r.branches.set(opts.branch, sha);
    return sha;
  }

  /** The commit and everything reachable through its parents. */
  ancestors(r: FakeRepo, sha: string): Set<string> {
    const seen = new Set<string>();
    const todo = [sha];
    while (todo.length > 0) {
      const s = todo.pop()!;
      if (seen.has(s)) continue;
      seen.add(s);
      todo.push(...(r.commits.get(s)?.parents ?? []));
    }
    return seen;
  }

  /** The best common ancestor, as `git merge-base` picks it: a common ancestor no other common ancestor descends from. */
  mergeBase(r: FakeRepo, a: string, b: string): string | undefined {
    const ofB = this.ancestors(r, b);
    const common = [...this.ancestors(r, a)].filter((s) => ofB.has(s));
    return common.find((c) => !common.some((o) => o !== c && this.ancestors(r, o).has(c)));
  }

  /**
   * A commit exactly as a real repository has it (its own SHA and parents,
   * blobs hashed as git hashes them), so evidence can be checked with `git`.
   */
  importCommit(fullName: string, opts: { sha: string; parents: string[]; files: Record<string, Buffer>; branch?: string; author?: string; message?: string }): string {
    const r = this.repos.get(fullName.toLowerCase());
    if (!r) throw new Error(`no fake repository ${fullName}`);
    const tree = new Map<string, string>();
    for (const [path, bytes] of Object.entries(opts.files)) {
      const sha = blobSha(bytes);
      r.blobs.set(sha, bytes);
      tree.set(path, sha);
    }
    const treeSha = createHash("sha1").update(JSON.stringify([...tree.entries()].sort())).digest("hex");
    r.commits.set(opts.sha, { sha: opts.sha, tree, treeSha, parents: opts.parents, author: opts.author ?? "octocat", message: opts.message ?? "change" });
    r.trees.set(treeSha, opts.sha);
    if (opts.branch) r.branches.set(opts.branch, opts.sha);
    return opts.sha;
  }

  /** A branch name or a commit SHA → the commit. */
  resolve(r: FakeRepo, ref: string): FakeCommit | undefined {
    const sha = r.branches.get(ref.replace(/^(refs\/)?heads\//, "")) ?? ref;
    return r.commits.get(sha);
  }

  private contents(r: FakeRepo, c: FakeCommit, path: string): FakeResponse {
    const links = (p: string, sha: string, kind: "blob" | "tree") => {
      const self = `${this.fake.url}/repos/${r.owner}/${r.name}/contents/${p}?ref=${c.sha}`;
      const git = `${this.fake.url}/repos/${r.owner}/${r.name}/git/${kind}s/${sha}`;
      const html = `https://github.com/${r.owner}/${r.name}/${kind}/${c.sha}/${p}`;
      return { url: self, git_url: git, html_url: html, _links: { self, git, html } };
    };
    const sha = c.tree.get(path);
    if (sha !== undefined) {
      const bytes = r.blobs.get(sha)!;
      const inline = bytes.length <= INLINE_LIMIT;
      return {
        status: 200,
        body: {
          type: "file",
          encoding: inline ? "base64" : "none",
          size: bytes.length,
          name: path.split("/").pop(),
          path,
          content: inline ? bytes.toString("base64") : "",
          sha,
          download_url: `https://raw.githubusercontent.com/${r.owner}/${r.name}/${c.sha}/${path}`,
          ...links(path, sha, "blob"),
        },
      };
    }
    const prefix = `${path.replace(/\/$/, "")}/`;
    const children = new Map<string, { type: "file" | "dir"; sha: string; size: number }>();
    for (const [p, s] of c.tree) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash < 0) children.set(rest, { type: "file", sha: s, size: r.blobs.get(s)!.length });
      else if (!children.has(rest.slice(0, slash))) children.set(rest.slice(0, slash), { type: "dir", sha: "0".repeat(40), size: 0 });
    }
    if (children.size === 0) return notFound;
    const entries = [...children.entries()].sort().map(([name, e]) => {
      const p = `${prefix}${name}`;
      return {
        type: e.type,
        size: e.size,
        name,
        path: p,
        sha: e.sha,
        download_url: e.type === "file" ? `https://raw.githubusercontent.com/${r.owner}/${r.name}/${c.sha}/${p}` : null,
        ...links(p, e.sha, e.type === "file" ? "blob" : "tree"),
      };
    });
    return { status: 200, body: entries };
  }
}
