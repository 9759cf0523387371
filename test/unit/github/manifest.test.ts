/**
 * app.yml is what GitHub registers the app from (Probot's manifest flow). It must ask
 * for exactly what the code uses: every event subscribed is handled and every handled
 * event subscribed; every permission is needed by a route the code calls, and every
 * route the code calls is covered; and it must follow the manifest rules GitHub
 * documents, which refuse, for example, `installation` in `default_events`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { clutchLuigiApp } from "../../../src/index.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");
type Access = "read" | "write";
interface Manifest {
  name: string;
  url: string;
  hook_attributes: { url: string; active?: boolean };
  redirect_url?: string;
  callback_urls?: string[];
  setup_url?: string;
  public: boolean;
  default_events: string[];
  default_permissions: Record<string, Access>;
  [k: string]: unknown;
}
const manifest = parse(readFileSync(path.join(ROOT, "app.yml"), "utf8")) as Manifest;

/**
 * The permission each REST route needs, from GitHub's "Permissions required for GitHub
 * Apps" reference. A route the code starts calling must be added here, which makes its
 * permission a decision someone reviews.
 */
const ROUTE_PERMISSIONS: Record<string, [string, Access] | "none"> = {
  "GET /orgs/{org}/teams/{team_slug}/members": ["members", "read"],
  "GET /orgs/{org}/teams/{team_slug}/memberships/{username}": ["members", "read"],
  "PUT /orgs/{org}/teams/{team_slug}/memberships/{username}": ["members", "write"],
  "DELETE /orgs/{org}/teams/{team_slug}/memberships/{username}": ["members", "write"],
  "GET /repos/{owner}/{repo}/actions/runs/{run_id}": ["actions", "read"],
  "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs": ["actions", "read"],
  "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches": ["actions", "write"],
  "GET /repos/{owner}/{repo}/collaborators/{username}/permission": ["metadata", "read"],
  "GET /repos/{owner}/{repo}/contents/{path}": ["contents", "read"],
  "GET /repos/{owner}/{repo}/git/blobs/{file_sha}": ["contents", "read"],
  "GET /repos/{owner}/{repo}/git/commits/{commit_sha}": ["contents", "read"],
  "GET /repos/{owner}/{repo}/git/ref/{ref}": ["contents", "read"],
  "GET /repos/{owner}/{repo}/git/trees/{tree_sha}": ["contents", "read"],
  "GET /repos/{owner}/{repo}/compare/{basehead}": ["contents", "read"],
  "GET /repos/{owner}/{repo}/commits/{ref}/statuses": ["statuses", "read"],
  "POST /repos/{owner}/{repo}/statuses/{sha}": ["statuses", "write"],
  "GET /repos/{owner}/{repo}/pulls/{pull_number}": ["pull_requests", "read"],
  "GET /repos/{owner}/{repo}/pulls/{pull_number}/commits": ["pull_requests", "read"],
  "GET /repos/{owner}/{repo}/pulls/{pull_number}/files": ["pull_requests", "read"],
  "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews": ["pull_requests", "read"],
  "GET /repos/{owner}/{repo}/issues/{issue_number}/events": ["pull_requests", "read"],
  "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": ["pull_requests", "read"],
  "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": ["pull_requests", "write"],
  "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": ["pull_requests", "write"],
  "GET /repos/{owner}/{repo}/check-runs/{check_run_id}": ["checks", "read"],
  "GET /repos/{owner}/{repo}/commits/{ref}/check-runs": ["checks", "read"],
  "POST /repos/{owner}/{repo}/check-runs": ["checks", "write"],
  "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}": ["checks", "write"],
  "POST /app/installations/{installation_id}/access_tokens": "none",
  "POST /app-manifests/{code}/conversions": "none",
};

/** The webhook event each subscribed event name needs a permission for (GitHub refuses the manifest otherwise). */
const EVENT_PERMISSION: Record<string, string> = {
  pull_request: "pull_requests",
  pull_request_review: "pull_requests",
  pull_request_review_comment: "pull_requests",
  check_run: "checks",
  check_suite: "checks",
  push: "contents",
  issue_comment: "issues",
  membership: "members",
};
/** Sent to every app whatever it subscribes to; GitHub's manifest flow refuses them in `default_events`. */
const ALWAYS_SENT = ["installation", "installation_repositories", "github_app_authorization", "installation_target"];
const LEVELS: Record<Access, number> = { read: 1, write: 2 };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith(".ts") ? [full] : [];
  });
}

/** Every GitHub REST route the source calls: `"VERB /path"` literals, and `` `VERB ${ROUTE}` `` with `const ROUTE = "/path"` in the same file. */
function routesCalled(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (route: string, file: string) => {
    // The app's own HTTP API, not GitHub's.
    if (/^\w+ \/(api|\.well-known)\//.test(route)) return;
    found.set(route, [...(found.get(route) ?? []), path.relative(ROOT, file)]);
  };
  for (const file of sourceFiles(path.join(ROOT, "src"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/["'`](GET|POST|PATCH|PUT|DELETE) (\/[\w{}/.-]+)["'`]/g)) add(`${m[1]} ${m[2]}`, file);
    for (const m of text.matchAll(/`(GET|POST|PATCH|PUT|DELETE) \$\{(\w+)\}`/g)) {
      const def = new RegExp(`const ${m[2]} = "(/[\\w{}/.-]+)"`).exec(text);
      if (!def) throw new Error(`${file}: route constant ${m[2]} not found`);
      add(`${m[1]} ${def[1]}`, file);
    }
  }
  return found;
}

/** The event names the app registers handlers for, recorded from a stand-in for Probot's `app.on`. */
function handledEvents(): string[] {
  const names = new Set<string>();
  const app = { on: (events: string | string[]) => [events].flat().forEach((e) => names.add(e.split(".")[0]!)) };
  (clutchLuigiApp({} as never) as unknown as (a: typeof app) => void)(app);
  return [...names].sort();
}

describe("app.yml", () => {
  it("subscribes to exactly the events the app handles", () => {
    expect([...manifest.default_events].sort()).toEqual(handledEvents());
  });

  it("has nothing in default_events that GitHub's manifest flow refuses", () => {
    for (const e of ALWAYS_SENT) expect(manifest.default_events).not.toContain(e);
    expect(new Set(manifest.default_events).size).toBe(manifest.default_events.length);
    for (const e of manifest.default_events) {
      const needs = EVENT_PERMISSION[e];
      expect(needs, `event ${e}`).toBeDefined();
      expect(manifest.default_permissions[needs!], `event ${e} needs the ${needs} permission`).toBeDefined();
    }
  });

  it("asks for exactly the permissions the routes the code calls need, at the level they need", () => {
    const needed: Record<string, Access> = { metadata: "read" };
    const unknown: string[] = [];
    for (const [route, files] of routesCalled()) {
      const p = ROUTE_PERMISSIONS[route];
      if (p === undefined) unknown.push(`${route} (${files.join(", ")})`);
      else if (p !== "none") {
        const [permission, level] = p;
        const had = needed[permission];
        if (!had || LEVELS[level] > LEVELS[had]) needed[permission] = level;
      }
    }
    expect(unknown, "routes with no permission entry in this test").toEqual([]);
    expect(manifest.default_permissions).toEqual(needed);
  });

  it("is a manifest GitHub accepts: the documented keys, valid values", () => {
    const allowed = ["name", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url", "description", "public", "default_events", "default_permissions", "request_oauth_on_install", "setup_on_update"];
    expect(Object.keys(manifest).filter((k) => !allowed.includes(k))).toEqual([]);
    expect(manifest.name.length).toBeLessThanOrEqual(34);
    expect(() => new URL(manifest.url)).not.toThrow();
    expect(() => new URL(manifest.hook_attributes.url)).not.toThrow();
    expect(typeof manifest.public).toBe("boolean");
    for (const v of Object.values(manifest.default_permissions)) expect(["read", "write"]).toContain(v);
  });

  it("and docs/github-app.md names each permission and event with its reason", () => {
    const doc = readFileSync(path.join(ROOT, "docs/github-app.md"), "utf8");
    const section = doc.slice(doc.indexOf("## GitHub App permissions"));
    for (const [p, level] of Object.entries(manifest.default_permissions)) expect(section).toMatch(new RegExp(`\`${p}\`: ${level} — \\S`));
    for (const e of manifest.default_events) expect(section).toMatch(new RegExp(`\`${e}\` — \\S`));
  });
});
