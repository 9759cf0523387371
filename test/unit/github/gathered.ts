/** GatheredPullRequest values built from the fixture repository, as gatherPullRequest would return them. */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { GatheredPullRequest } from "../../../src/github/facts.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/github");
export const read = (rel: string): string => readFileSync(path.join(FIXTURES, rel), "utf8");

export const HEAD = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
export const BASE = "9c48853fa3dc5c1c3d6f1f1cd1f2743e72652840";

/** A PR by alice adding `requestPath` with `requestText`, approved by `approvers` at the head. */
export function gathered(requestPath: string, requestText: string, opts: { approvers?: string[]; workflow?: string } = {}): GatheredPullRequest {
  const workflow = opts.workflow ?? "restart-service";
  const approvers = opts.approvers ?? ["sam"];
  return {
    ref: { owner: "acme", repo: "ops", pullNumber: 7 },
    baseRef: "main",
    baseSha: BASE,
    headSha: HEAD,
    facts: {
      repository: "acme/ops",
      author: { login: "alice", type: "User" },
      headSha: HEAD,
      files: [{ path: requestPath, status: "added", sha: "0b5c1c8f0a6ba0e1f3c1e1e0e2f5bb5bb1a2c3d4" }],
      reviews: approvers.map((login, i) => ({ id: 80 + i, user: { login, type: "User" }, state: "APPROVED" as const, commitId: HEAD, submittedAt: `2026-11-28T10:0${i}:00Z` })),
      teams: { "acme/sre": ["sam", "sara"], "acme/dba": ["bob", "carol"], "acme/platform": ["paula"] },
      codeowners: read("ops-repo/.github/CODEOWNERS"),
      codeownersPath: ".github/CODEOWNERS",
      config: { staleApprovals: "content" },
      workflows: { [workflow]: {} },
      labels: [],
      body: "",
      requests: [{ path: requestPath, workflow }],
      permissions: Object.fromEntries(approvers.map((a) => [a, "write"])),
      committers: [],
      change: { base: "main", paths: { [requestPath]: [null, "0b5c1c8f0a6ba0e1f3c1e1e0e2f5bb5bb1a2c3d4"] } },
      reviewedChanges: [],
      baseChanges: [],
    },
    request: { path: requestPath, text: requestText, workflow },
    workflowNames: ["restart-service", "rotate-db-credentials"],
    workflowFiles: [{ path: `workflows/${workflow}.yaml`, content: read(`ops-repo/workflows/${workflow}.yaml`) }],
    problems: [],
    authority: {
      baseSha: BASE,
      workflow: [{ path: `workflows/${workflow}.yaml`, sha: "1".repeat(40) }],
      policy: { path: ".github/clutch-luigi.yml", sha: "2".repeat(40) },
      codeowners: { path: ".github/CODEOWNERS", sha: "3".repeat(40) },
    },
    reviewerIds: Object.fromEntries(approvers.map((login, i) => [login, 1000 + i])),
    fork: null,
  };
}
