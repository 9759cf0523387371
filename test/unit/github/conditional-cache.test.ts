/**
 * The ETag cache in front of GitHub: immutable reads (by SHA) answered without
 * a request, everything else revalidated with If-None-Match, answers kept per
 * installation, bounded, and errors other than an immutable 404 never kept.
 */
import { describe, expect, it } from "vitest";
import { ConditionalCache, isImmutableRead } from "../../../src/github/conditional-cache.js";
import type { GitHubClient, GitHubResponse } from "../../../src/github/client.js";

const SHA = "a".repeat(40);
const SHA2 = "b".repeat(40);

class StubGitHub implements GitHubClient {
  calls: { route: string; params: Record<string, unknown> }[] = [];
  constructor(private readonly answer: (route: string, params: Record<string, unknown>) => GitHubResponse) {}
  async request(route: string, params: Record<string, unknown> = {}): Promise<GitHubResponse> {
    this.calls.push({ route, params });
    return this.answer(route, params);
  }
}

const error = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

/** A GitHub whose answer for each key is `data`, with ETag "v<version>", and 304 on a matching If-None-Match. */
function etagGitHub(data: () => unknown, version: () => number) {
  return new StubGitHub((_route, params) => {
    const tag = `W/"v${version()}"`;
    if ((params.headers as Record<string, string> | undefined)?.["if-none-match"] === tag) throw error(304);
    return { status: 200, data: data(), headers: { etag: tag } };
  });
}

describe("isImmutableRead", () => {
  it("is true only for reads addressed by full SHAs", () => {
    expect(isImmutableRead("GET /repos/{owner}/{repo}/contents/{path}", { ref: SHA })).toBe(true);
    expect(isImmutableRead("GET /repos/{owner}/{repo}/contents/{path}", { ref: "main" })).toBe(false);
    expect(isImmutableRead("GET /repos/{owner}/{repo}/contents/{path}", {})).toBe(false);
    expect(isImmutableRead("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", { file_sha: SHA })).toBe(true);
    expect(isImmutableRead("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", { tree_sha: SHA })).toBe(true);
    expect(isImmutableRead("GET /repos/{owner}/{repo}/compare/{basehead}", { basehead: `${SHA}...${SHA2}` })).toBe(true);
    expect(isImmutableRead("GET /repos/{owner}/{repo}/compare/{basehead}", { basehead: `main...${SHA2}` })).toBe(false);
    expect(isImmutableRead("GET /repos/{owner}/{repo}/compare/{basehead}", { basehead: `${SHA}...${SHA2}...${SHA}` })).toBe(false);
    // A short SHA could later name another object.
    expect(isImmutableRead("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", { file_sha: "abc1234" })).toBe(false);
    expect(isImmutableRead("GET /repos/{owner}/{repo}/pulls/{pull_number}", { pull_number: 1 })).toBe(false);
  });
});

describe("ConditionalCache", () => {
  it("answers an immutable read again without asking GitHub, including a 404", async () => {
    let n = 0;
    const gh = new StubGitHub((_r, params) => {
      n++;
      if (params.path === "missing") throw error(404);
      return { status: 200, data: { n } };
    });
    const c = new ConditionalCache().client(gh, "installation:1");
    const route = "GET /repos/{owner}/{repo}/contents/{path}";
    expect((await c.request(route, { owner: "o", repo: "r", path: "f", ref: SHA })).data).toEqual({ n: 1 });
    expect((await c.request(route, { ref: SHA, path: "f", repo: "r", owner: "o" })).data).toEqual({ n: 1 });
    await expect(c.request(route, { owner: "o", repo: "r", path: "missing", ref: SHA })).rejects.toMatchObject({ status: 404 });
    await expect(c.request(route, { owner: "o", repo: "r", path: "missing", ref: SHA })).rejects.toMatchObject({ status: 404 });
    expect(gh.calls).toHaveLength(2);
  });

  it("revalidates a mutable read with If-None-Match and serves the cached body on 304", async () => {
    let version = 1;
    let body: unknown = { state: "open" };
    const gh = etagGitHub(() => body, () => version);
    const cache = new ConditionalCache();
    const c = cache.client(gh, "installation:1");
    const route = "GET /repos/{owner}/{repo}/pulls/{pull_number}";
    const params = { owner: "o", repo: "r", pull_number: 1 };
    expect((await c.request(route, params)).data).toEqual({ state: "open" });
    expect(gh.calls[0]!.params.headers).toEqual({});
    expect((await c.request(route, params)).data).toEqual({ state: "open" });
    expect(gh.calls[1]!.params.headers).toEqual({ "if-none-match": 'W/"v1"' });
    version = 2;
    body = { state: "closed" };
    expect((await c.request(route, params)).data).toEqual({ state: "closed" });
    expect(cache.snapshot()).toMatchObject({ notModified: 1, misses: 2 });
  });

  it("never serves one installation's answers to another", async () => {
    const gh = etagGitHub(() => ({ secret: true }), () => 1);
    const cache = new ConditionalCache();
    const route = "GET /repos/{owner}/{repo}/contents/{path}";
    await cache.client(gh, "installation:1").request(route, { owner: "o", repo: "r", path: "f", ref: SHA });
    await cache.client(gh, "installation:2").request(route, { owner: "o", repo: "r", path: "f", ref: SHA });
    expect(gh.calls).toHaveLength(2);
    // …and the second installation got no If-None-Match from the first's entry.
    const rev = "GET /repos/{owner}/{repo}/pulls/{pull_number}";
    await cache.client(gh, "installation:1").request(rev, { owner: "o", repo: "r", pull_number: 1 });
    await cache.client(gh, "installation:2").request(rev, { owner: "o", repo: "r", pull_number: 1 });
    expect(gh.calls.at(-1)!.params.headers).toEqual({});
  });

  it("does not keep a GitHub failure: a 502 is thrown, and the next call asks again", async () => {
    let fail = true;
    const gh = new StubGitHub(() => {
      if (fail) throw error(502);
      return { status: 200, data: { ok: true } };
    });
    const c = new ConditionalCache().client(gh, "s");
    const route = "GET /repos/{owner}/{repo}/git/blobs/{file_sha}";
    await expect(c.request(route, { owner: "o", repo: "r", file_sha: SHA })).rejects.toMatchObject({ status: 502 });
    fail = false;
    expect((await c.request(route, { owner: "o", repo: "r", file_sha: SHA })).data).toEqual({ ok: true });
    expect(gh.calls).toHaveLength(2);
  });

  it("drops a revalidated entry when GitHub now answers 404, rather than serving what was deleted", async () => {
    let gone = false;
    const gh = new StubGitHub((_r, params) => {
      if (gone) throw error(404);
      const tag = 'W/"x"';
      if ((params.headers as Record<string, string>)["if-none-match"] === tag) throw error(304);
      return { status: 200, data: { members: ["sam"] }, headers: { etag: tag } };
    });
    const c = new ConditionalCache().client(gh, "s");
    const route = "GET /orgs/{org}/teams/{team_slug}/members";
    await c.request(route, { org: "acme", team_slug: "sre" });
    gone = true;
    await expect(c.request(route, { org: "acme", team_slug: "sre" })).rejects.toMatchObject({ status: 404 });
    gone = false;
    await c.request(route, { org: "acme", team_slug: "sre" });
    expect(gh.calls.at(-1)!.params.headers).toEqual({});
  });

  it("passes writes through untouched", async () => {
    const gh = new StubGitHub(() => ({ status: 201, data: { id: 1 } }));
    const c = new ConditionalCache().client(gh, "s");
    await c.request("POST /repos/{owner}/{repo}/check-runs", { owner: "o", repo: "r", name: "x" });
    await c.request("POST /repos/{owner}/{repo}/check-runs", { owner: "o", repo: "r", name: "x" });
    expect(gh.calls).toHaveLength(2);
    expect(gh.calls[0]!.params).toEqual({ owner: "o", repo: "r", name: "x" });
  });

  it("is bounded by entries and by bytes, evicting the least recently used", async () => {
    const gh = new StubGitHub((_r, params) => ({ status: 200, data: { path: params.path, pad: "x".repeat(Number(params.size ?? 10)) } }));
    const cache = new ConditionalCache({ maxEntries: 3 });
    const c = cache.client(gh, "s");
    const route = "GET /repos/{owner}/{repo}/contents/{path}";
    const read = (path: string) => c.request(route, { owner: "o", repo: "r", path, ref: SHA });
    await read("a");
    await read("b");
    await read("c");
    await read("a"); // a is now the most recently used
    await read("d"); // evicts b
    expect(cache.snapshot().entries).toBe(3);
    const before = gh.calls.length;
    await read("a");
    await read("c");
    expect(gh.calls.length).toBe(before);
    await read("b");
    expect(gh.calls.length).toBe(before + 1);

    const small = new ConditionalCache({ maxBytes: 2_000 });
    const s = small.client(gh, "s");
    for (const path of ["p1", "p2", "p3"]) await s.request(route, { owner: "o", repo: "r", path, ref: SHA, size: 800 });
    expect(small.snapshot().bytes).toBeLessThanOrEqual(2_000);
    expect(small.snapshot().entries).toBe(2);
    // One answer larger than the whole budget is not kept at all.
    await s.request(route, { owner: "o", repo: "r", path: "huge", ref: SHA, size: 5_000 });
    expect(small.snapshot().bytes).toBeLessThanOrEqual(2_000);
  });
});
