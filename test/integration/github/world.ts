/**
 * A seeded GitHub for the adapter's integration tests: `acme/ops` with the
 * fixture repository on `main`, the org's `.github` repository, teams with
 * members, and reviewers' permissions. Everything is served over real HTTP by
 * the OpenAPI-checked fake and read through a real Octokit.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { Octokit } from "@octokit/rest";
import { startPullRequestWorld, type PullRequestWorld } from "../../support/github/pull-request-world.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/github");
export const REPO = "acme/ops";

function filesUnder(dir: string, prefix = ""): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(full).isDirectory()) Object.assign(out, filesUnder(full, rel));
    else out[rel] = readFileSync(full);
  }
  return out;
}

export function fixture(rel: string): string {
  return readFileSync(path.join(FIXTURES, rel), "utf8");
}

export interface World extends PullRequestWorld {
  octokit: Octokit;
}

export async function startWorld(): Promise<World> {
  const w = await startPullRequestWorld();
  w.git.createRepo(REPO);
  w.git.commit(REPO, { branch: "main", files: filesUnder(path.join(FIXTURES, "ops-repo")), message: "ops repository" });
  w.git.createRepo("acme/.github");
  w.git.commit("acme/.github", { branch: "main", files: filesUnder(path.join(FIXTURES, "org-dotgithub")), message: "org defaults" });
  w.teams.add("acme", "platform", { paula: "maintainer" });
  w.teams.add("acme", "sre", { sam: "member", sara: "member" });
  w.teams.add("acme", "dba", { bob: "maintainer", carol: "member", dan: "member" });
  w.teams.add("acme", "security", { sec: "member" });
  for (const login of ["paula", "sam", "sara", "bob", "carol", "dan", "sec", "alice"]) w.pulls.setPermission(REPO, login, "write");
  w.pulls.setPermission(REPO, "rita", "read");
  const octokit = new Octokit({ baseUrl: w.url, auth: "ghs_test_installation_token", log: { debug() {}, info() {}, warn() {}, error() {} } });
  return { ...w, octokit };
}
