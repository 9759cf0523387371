/**
 * Gathered facts → what the two check runs show: the policy verdict and the
 * request's plan (or its problems). Pure: no network, no clock beyond what
 * the policy itself reads. Anything the adapter could not read in full, and
 * any problem with the request, blocks the verdict: the policy check says
 * "approved to run", and an invalid request must never be.
 */
import type { ActionRegistry } from "../actions/registry.js";
import { evaluatePolicy, type Blocker, type Verdict } from "../policy/index.js";
import { buildCatalog, buildPlan, checkRequest, parseSource, sortProblems, type Plan, type Problem, type RequestSpec, type WorkflowSpec } from "../formats/index.js";
import type { AuthorityBlobs, GatheredPullRequest } from "./facts.js";

export interface RequestEvaluation {
  path: string;
  workflow: string | null;
  /** Present when the request is valid against the base branch's catalog. */
  plan?: Plan;
  /** The checked request and its workflow behind the plan: a merge runs exactly these, parsed once. */
  checked?: { request: RequestSpec; workflow: WorkflowSpec };
  problems: Problem[];
}

export interface Evaluation {
  repository: string;
  headSha: string;
  baseSha: string;
  verdict: Verdict;
  /** Null when the PR adds no request (a control-plane or housekeeping change). */
  request: RequestEvaluation | null;
  /** Problems with files of the PR that are not the request's content (rules about request files). */
  fileProblems: Problem[];
  /** The authority blobs the verdict and plan were computed under; a merge runs only under the same. */
  authority: AuthorityBlobs;
  /** The fork the pull request comes from (see forkOf), or null. */
  fork: string | null;
}

function checkRequestFile(g: GatheredPullRequest, registry: ActionRegistry): RequestEvaluation | null {
  const r = g.request;
  if (!r) return null;
  // What the adapter found wrong with the file itself (unreadable, wrong branch) comes first.
  const own: Problem[] = g.problems.filter((p) => p.file === r.path).map((p) => ({ file: r.path, line: p.line ?? 1, col: p.col ?? 1, message: p.message }));
  const result = (problems: Problem[], plan?: Plan, checked?: RequestEvaluation["checked"]): RequestEvaluation => ({
    path: r.path,
    workflow: r.workflow,
    ...(plan && checked && own.length === 0 && problems.length === 0 ? { plan, checked } : {}),
    problems: [...own, ...sortProblems(problems)],
  });
  if (r.text === null) return result([]);
  const parsed = parseSource(r.path, r.text);
  if (!parsed.ok) return result(parsed.problems);
  const { catalog: fetched } = buildCatalog(g.workflowFiles, registry);
  // Names listed on the base branch but not fetched only feed "did you mean"; none of them is the one requested.
  const catalog = new Map<string, WorkflowSpec | undefined>(g.workflowNames.map((n) => [n, undefined]));
  for (const [name, wf] of fetched) catalog.set(name, wf);
  const checked = checkRequest(parsed.doc, catalog, registry);
  if (checked.problems.length > 0 || !checked.request || !checked.workflow) return result(checked.problems);
  return result([], buildPlan(r.path, checked.request, checked.workflow), { request: checked.request, workflow: checked.workflow });
}

/** The verdict with further blockers: never approved, and the summary and explanation say why first. */
export function withBlockers(verdict: Verdict, extra: readonly Blocker[]): Verdict {
  if (extra.length === 0) return verdict;
  const blocking = [...extra, ...verdict.blocking];
  const codes = [...new Set(blocking.map((b) => b.code))].join(", ");
  const tag = verdict.breakGlass.active ? " [BREAK-GLASS]" : "";
  // Keep the policy's own account of missing approvals; its blocked part is restated with ours.
  const missing = !verdict.summary.startsWith("Not approved: ")
    ? ""
    : verdict.summary
        .replace(/^Not approved: /, "")
        .replace(/ \[BREAK-GLASS\]$/, "")
        .replace(/^blocked \([^)]*\)(; )?/, "");
  const [first = "", ...rest] = verdict.explanation.split("\n");
  const wasApproved = !first.startsWith("Not approved");
  return {
    ...verdict,
    approved: false,
    blocking,
    summary: `Not approved: blocked (${codes})${missing ? `; ${missing}` : ""}${tag}`,
    explanation: [
      "Not approved.",
      ...extra.map((b) => `Blocked: ${b.message}.`),
      ...(wasApproved ? [`Approvals alone would suffice: ${first}`] : []),
      ...rest,
    ].join("\n"),
  };
}

export function evaluatePullRequest(g: GatheredPullRequest, registry: ActionRegistry): Evaluation {
  const request = checkRequestFile(g, registry);
  const blockers: Blocker[] = g.problems.map((p) => ({ code: p.code, message: p.message }));
  const ownProblems = g.problems.filter((p) => p.file !== undefined && p.file === g.request?.path).length;
  if (request && request.problems.length > ownProblems) {
    blockers.push({
      code: "request-invalid",
      message: `${request.path} has ${request.problems.length - ownProblems} problem${request.problems.length - ownProblems === 1 ? "" : "s"} (see the clutch-luigi/plan check); an invalid request cannot be approved`,
    });
  }
  const verdict = withBlockers(evaluatePolicy(g.facts), blockers);
  const fileProblems: Problem[] = g.problems
    .filter((p) => p.file !== undefined && p.file !== g.request?.path)
    .map((p) => ({ file: p.file!, line: p.line ?? 1, col: p.col ?? 1, message: p.message }));
  return { repository: g.facts.repository, headSha: g.headSha, baseSha: g.baseSha, verdict, request, fileProblems, authority: g.authority, fork: g.fork };
}
