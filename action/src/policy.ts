/**
 * `policy`: the verdict of the `clutch-luigi/policy` check, computed in CI.
 * Either from a facts file, or — with a token in a pull-request run — from
 * the current PR, gathered through the API by the app's own code, so
 * authority comes from the base branch exactly as the app reads it. A
 * proposed policy (`config`, read from the PR's checkout) is only ever a
 * labelled simulation beside the real verdict, never in its place.
 */
import { readFileSync, statSync } from "node:fs";
import { Octokit } from "@octokit/rest";
import { checkedConfig, InputError, readData } from "../../src/cli/commands/policy.js";
import type { CliIO } from "../../src/cli/command.js";
import { evaluatePullRequest, type Evaluation } from "../../src/github/evaluate.js";
import { DEFAULT_LIMITS, gatherPullRequest, type GatheredPullRequest, type GatherProblem } from "../../src/github/facts.js";
import { fenced, inert, renderPolicyCheck } from "../../src/github/render.js";
import { pullRequestTarget } from "../../src/github/event.js";
import { namedTeams } from "../../src/github/team-refs.js";
import { readTeams } from "../../src/github/teams.js";
import { checkFacts, evaluatePolicy, mergeConfig, type PolicyFacts, type Verdict } from "../../src/policy/index.js";
import type { ActionContext } from "./context.js";
import { ActionInputError, getInput } from "./runner.js";

export const SIMULATION_LABEL = "proposed (simulation)";

/** GitHub's own limit for a webhook payload; an event file larger than that is not one. */
const MAX_EVENT_BYTES = 25 * 1024 * 1024;

/** Events whose payload names the pull request the run is about (as the app handles them). */
const PULL_REQUEST_EVENTS: Record<string, string> = { pull_request: "pull_request", pull_request_target: "pull_request", pull_request_review: "pull_request_review" };

interface Outcome {
  /** How the facts were obtained, for the summary heading. */
  subject: string;
  real: Verdict;
  realSummary: string;
  proposed?: { config: string; verdict: Verdict; summary: string };
}

function cliIO(ctx: ActionContext): CliIO {
  return { cwd: ctx.cwd, env: { ...ctx.env }, stdout: { write: () => true }, stderr: { write: () => true } };
}

function readConfigInput(ctx: ActionContext): { file: string; config: unknown } | undefined {
  const file = getInput(ctx.env, "config");
  if (file === "") return undefined;
  return { file, config: checkedConfig(file, readData(cliIO(ctx), file)) };
}

/** The facts-mode summary: no check run exists to mirror, so the verdict speaks for itself. */
function verdictMarkdown(v: Verdict): string {
  return [`**${v.approved ? "Approved" : "Not approved"}**: ${inert(v.summary)}`, "", fenced(v.explanation, "text")].join("\n");
}

function checkMarkdown(e: Evaluation): string {
  const out = renderPolicyCheck(e).output;
  return [out.summary, "", out.text ?? ""].join("\n").trimEnd();
}

function fromFactsFile(ctx: ActionContext, file: string): Outcome {
  const facts = readData(cliIO(ctx), file);
  const problems = checkFacts(facts);
  if (problems.length > 0) throw new InputError(`${file} is not a valid facts snapshot:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  const real = evaluatePolicy(facts as PolicyFacts);
  const outcome: Outcome = { subject: `facts from \`${inert(file)}\``, real, realSummary: verdictMarkdown(real) };
  const proposed = readConfigInput(ctx);
  if (proposed) {
    const verdict = evaluatePolicy({ ...(facts as PolicyFacts), config: proposed.config });
    outcome.proposed = { config: proposed.file, verdict, summary: verdictMarkdown(verdict) };
  }
  return outcome;
}

function readEvent(ctx: ActionContext): unknown {
  const file = ctx.env.GITHUB_EVENT_PATH;
  if (!file) throw new ActionInputError("policy without facts reads the pull request from GITHUB_EVENT_PATH, which is not set");
  const size = statSync(file).size;
  if (size > MAX_EVENT_BYTES) throw new ActionInputError(`the event file is ${size} bytes; GitHub's payloads are at most ${MAX_EVENT_BYTES}`);
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ActionInputError(`the event file is not JSON: ${(e as Error).message}`);
  }
}

/** The PR's facts with the proposed policy in place of the base branch's, and the teams it names read too. */
async function withProposedPolicy(gh: Octokit, g: GatheredPullRequest, config: unknown): Promise<GatheredPullRequest> {
  const f = g.facts;
  const workflowApprovals = Object.values(f.workflows ?? {}).map((w) => w.approval);
  const wanted = namedTeams({ codeowners: f.codeowners, config: mergeConfig(f.orgConfig, config), workflowApprovals });
  const known = new Set(Object.keys(f.teams ?? {}));
  const problems: GatherProblem[] = [];
  const extra = await readTeams(gh, wanted.filter((k) => !known.has(k)).slice(0, DEFAULT_LIMITS.maxTeams), DEFAULT_LIMITS.maxTeamMembers, problems);
  return { ...g, facts: { ...f, config, teams: { ...f.teams, ...extra } }, problems: [...g.problems, ...problems] };
}

async function fromPullRequest(ctx: ActionContext, token: string): Promise<Outcome> {
  const eventName = ctx.env.GITHUB_EVENT_NAME ?? "";
  const kind = PULL_REQUEST_EVENTS[eventName];
  if (!kind) throw new ActionInputError(`policy needs a facts file, or a pull_request run to read the PR from; this run is a ${eventName || "(unknown)"} event`);
  const target = pullRequestTarget(kind, readEvent(ctx));
  if (!target) throw new ActionInputError(`the ${eventName} event does not name a pull request to evaluate (or its action changes nothing the policy reads)`);
  // The runner's own variable names the repository; the payload only names the PR.
  const [owner, repo] = (ctx.env.GITHUB_REPOSITORY ?? `${target.owner}/${target.repo}`).split("/") as [string, string];
  const gh = new Octokit({
    auth: token,
    baseUrl: ctx.env.GITHUB_API_URL || "https://api.github.com",
    userAgent: "clutch-luigi-action",
    log: { debug() {}, info() {}, warn() {}, error() {} },
  });
  const g = await gatherPullRequest(gh, { owner, repo, pullNumber: target.pullNumber });
  const e = evaluatePullRequest(g, ctx.registry);
  const outcome: Outcome = { subject: `${inert(owner)}/${inert(repo)}#${target.pullNumber}`, real: e.verdict, realSummary: checkMarkdown(e) };
  const proposed = readConfigInput(ctx);
  if (proposed) {
    const sim = evaluatePullRequest(await withProposedPolicy(gh, g, proposed.config), ctx.registry);
    outcome.proposed = { config: proposed.file, verdict: sim.verdict, summary: checkMarkdown(sim) };
  }
  return outcome;
}

export async function runPolicy(ctx: ActionContext): Promise<number> {
  const factsFile = getInput(ctx.env, "facts");
  const token = getInput(ctx.env, "token");
  if (factsFile === "" && token === "") throw new ActionInputError("policy needs the facts input, or a token to read the pull request with");
  const o = factsFile !== "" ? fromFactsFile(ctx, factsFile) : await fromPullRequest(ctx, token);
  const out = [`## Clutch Luigi: policy — ${o.subject}`, "", "### Verdict under the current policy", "", o.realSummary, ""];
  if (o.proposed) {
    const p = o.proposed;
    out.push(
      `### ${SIMULATION_LABEL}: \`${inert(p.config)}\``,
      "",
      `> [!WARNING]\n> A simulation, not the verdict: this is what the policy in \`${inert(p.config)}\` from this pull request would decide${factsFile ? "" : " if it were on the base branch"}. Only the verdict above counts.`,
      "",
      p.summary,
      "",
    );
  }
  ctx.runner.summary(out.join("\n"));
  ctx.runner.setOutput("approved", String(o.real.approved));
  ctx.runner.setOutput("verdict", JSON.stringify(o.real));
  ctx.runner.setOutput("problems", String(o.real.blocking.length));
  ctx.runner.setOutput("simulated", String(o.proposed !== undefined));
  if (o.proposed) {
    ctx.runner.setOutput("proposed-approved", String(o.proposed.verdict.approved));
    ctx.runner.setOutput("proposed-verdict", JSON.stringify({ simulation: SIMULATION_LABEL, config: o.proposed.config, ...o.proposed.verdict }));
  }
  ctx.runner.log(`${o.real.approved ? "Approved" : "Not approved"}: ${o.real.summary}`);
  if (o.proposed) ctx.runner.log(`${SIMULATION_LABEL} with ${o.proposed.config}: ${o.proposed.verdict.approved ? "approved" : "not approved"}: ${o.proposed.verdict.summary}`);
  return o.real.approved ? 0 : 1;
}

