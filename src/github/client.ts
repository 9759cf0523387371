/**
 * The narrow slice of GitHub the app calls: Octokit's `request(route, params)`.
 * Handlers get their installation Octokit from Probot and tests get an
 * `@octokit/rest` pointed at the local fake; both fit, and nothing here
 * depends on either.
 */

export interface GitHubResponse<T = unknown> {
  status: number;
  data: T;
  /** Response headers as Octokit gives them (lower-case names); the ETag cache reads `etag`. */
  headers?: Record<string, string | number | undefined>;
}

export interface GitHubClient {
  request(route: string, params?: Record<string, unknown>): Promise<GitHubResponse>;
}

/** Where a pull request lives. */
export interface PullRequestRef {
  owner: string;
  repo: string;
  pullNumber: number;
}

/** The HTTP status of an Octokit RequestError, if that is what was thrown. */
export function statusOf(e: unknown): number | undefined {
  const s = (e as { status?: unknown } | null)?.status;
  return typeof s === "number" ? s : undefined;
}

/** `request` that answers null on 404 (a file or team that is not there), and throws on anything else. */
export async function requestOrNull<T>(gh: GitHubClient, route: string, params: Record<string, unknown>): Promise<T | null> {
  try {
    return (await gh.request(route, params)).data as T;
  } catch (e) {
    if (statusOf(e) === 404) return null;
    throw e;
  }
}

export interface PageLimit {
  /** Items per page (GitHub's maximum is 100). */
  perPage?: number;
  /** Pages read at most; what lies beyond is reported as truncated. */
  maxPages: number;
}

export interface Paged<T> {
  items: T[];
  /** True when `maxPages` full pages were read, so more may exist. */
  truncated: boolean;
}

/**
 * Reads a list endpoint page by page with a hard bound. Octokit's paginate
 * would follow `Link` headers without limit; a PR with a huge history must
 * cost a known number of calls, and the caller must learn it was cut short.
 * `pick` extracts the list from responses that wrap it (`{ total_count, … }`).
 */
export async function paginate<T>(
  gh: GitHubClient,
  route: string,
  params: Record<string, unknown>,
  limit: PageLimit,
  pick: (data: unknown) => T[] = (d) => d as T[],
): Promise<Paged<T>> {
  const perPage = limit.perPage ?? 100;
  const items: T[] = [];
  for (let page = 1; page <= limit.maxPages; page++) {
    const { data } = await gh.request(route, { ...params, per_page: perPage, page });
    const batch = pick(data);
    if (!Array.isArray(batch)) throw new Error(`${route}: expected a list, got ${typeof batch}`);
    items.push(...batch);
    if (batch.length < perPage) return { items, truncated: false };
  }
  return { items, truncated: true };
}
