/**
 * A per-process cache of GitHub GET responses, so that re-evaluating a pull
 * request costs few counted API calls. Two kinds of read:
 *
 * - Immutable: a file, folder, blob, tree or commit addressed by a commit or
 *   object SHA (`contents/{path}?ref=<sha>`, `git/blobs/{sha}`, a comparison
 *   of two commit SHAs, …). The answer
 *   can never change, so a cached one is used without asking GitHub at all;
 *   this is what makes the authority files (CODEOWNERS, the policy file, the
 *   `workflows/` listing and files), read at the base SHA, free for every
 *   later event on the same base. A 404 at a SHA is as final and is kept too.
 * - Everything else (the pull request, its lists, the base branch head, team
 *   members, permissions, the org defaults on a branch): revalidated with
 *   `If-None-Match`. GitHub answers 304 when nothing changed, and a 304 does
 *   not count against the installation's rate limit.
 *
 * Entries are keyed by scope (the installation: one installation's answers
 * are never served to another), route and parameters, and bounded by count
 * and by bytes with least-recently-used eviction.
 */
import { statusOf, type GitHubClient, type GitHubResponse } from "./client.js";

export interface ConditionalCacheOptions {
  /** Entries kept at most. */
  maxEntries?: number;
  /** Approximate bytes kept at most (the JSON size of the cached answers). */
  maxBytes?: number;
}

interface Entry {
  etag: string | null;
  /** The answer: data on success, or the 404 error for an immutable read. */
  data?: unknown;
  notFound?: unknown;
  bytes: number;
}

export interface ConditionalCacheStats {
  /** Immutable answers served without a request. */
  hits: number;
  /** Revalidations GitHub answered 304. */
  notModified: number;
  /** Requests that returned a (new) body. */
  misses: number;
  entries: number;
  bytes: number;
}

const SHA = /^[0-9a-f]{40}$/;
const COMMIT_PAIR = /^[0-9a-f]{40}\.\.\.[0-9a-f]{40}$/;

/** Routes whose answer is fixed once the SHA they name is fixed. */
export function isImmutableRead(route: string, params: Record<string, unknown>): boolean {
  switch (route) {
    case "GET /repos/{owner}/{repo}/contents/{path}":
      return typeof params.ref === "string" && SHA.test(params.ref);
    case "GET /repos/{owner}/{repo}/git/blobs/{file_sha}":
      return typeof params.file_sha === "string" && SHA.test(params.file_sha);
    case "GET /repos/{owner}/{repo}/git/trees/{tree_sha}":
      return typeof params.tree_sha === "string" && SHA.test(params.tree_sha);
    case "GET /repos/{owner}/{repo}/git/commits/{commit_sha}":
      return typeof params.commit_sha === "string" && SHA.test(params.commit_sha);
    case "GET /repos/{owner}/{repo}/compare/{basehead}":
      // Two fixed commits have one merge base and one difference.
      return typeof params.basehead === "string" && COMMIT_PAIR.test(params.basehead);
    default:
      return false;
  }
}

/** A stable key: parameters in sorted order, headers left out (the client adds its own). */
function keyOf(scope: string, route: string, params: Record<string, unknown>): string {
  const sorted = Object.keys(params)
    .filter((k) => k !== "headers" && k !== "request")
    .sort()
    .map((k) => [k, params[k]]);
  return `${scope}\u0000${route}\u0000${JSON.stringify(sorted)}`;
}

function etagOf(headers: unknown): string | null {
  const e = (headers as Record<string, unknown> | undefined)?.etag;
  return typeof e === "string" && e !== "" ? e : null;
}

export class ConditionalCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  readonly stats: Omit<ConditionalCacheStats, "entries" | "bytes"> = { hits: 0, notModified: 0, misses: 0 };

  constructor(opts: ConditionalCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 5000;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  }

  snapshot(): ConditionalCacheStats {
    return { ...this.stats, entries: this.entries.size, bytes: this.bytes };
  }

  /** `gh` with its GET requests answered from, and revalidated against, this cache. */
  client(gh: GitHubClient, scope: string): GitHubClient {
    return { request: (route, params = {}) => this.request(gh, scope, route, params) };
  }

  private get(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.bytes -= old.bytes;
    this.entries.delete(key);
  }

  private put(key: string, e: Entry): void {
    this.remove(key);
    // An answer bigger than the whole budget is not kept (it would evict everything).
    if (e.bytes > this.maxBytes) return;
    this.entries.set(key, e);
    this.bytes += e.bytes;
    for (const [k, v] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.bytes;
    }
  }

  private async request(gh: GitHubClient, scope: string, route: string, params: Record<string, unknown>): Promise<GitHubResponse> {
    if (!route.startsWith("GET ")) return gh.request(route, params);
    const key = keyOf(scope, route, params);
    const immutable = isImmutableRead(route, params);
    const cached = this.get(key);
    if (cached && immutable) {
      this.stats.hits++;
      if (cached.notFound !== undefined) throw cached.notFound;
      return { status: 200, data: cached.data };
    }
    const conditional = cached?.etag && cached.data !== undefined ? cached : undefined;
    const headers = { ...((params.headers as Record<string, string> | undefined) ?? {}), ...(conditional ? { "if-none-match": conditional.etag! } : {}) };
    let res: GitHubResponse;
    try {
      res = await gh.request(route, { ...params, headers });
    } catch (e) {
      if (statusOf(e) === 304 && conditional) {
        this.stats.notModified++;
        return { status: 200, data: conditional.data };
      }
      if (statusOf(e) === 404 && immutable) this.put(key, { etag: null, notFound: e, bytes: 256 });
      else if (cached) this.remove(key);
      throw e;
    }
    this.stats.misses++;
    const etag = etagOf(res.headers);
    if (immutable || etag) this.put(key, { etag, data: res.data, bytes: JSON.stringify(res.data ?? null).length + key.length });
    return res;
  }
}
