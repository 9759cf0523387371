/**
 * `command: policy`, run as the runner runs the bundle: from a facts file,
 * and from the current pull request (a real `pull_request` payload from
 * @octokit/webhooks-examples, the token path against the local GitHub).
 * A proposed policy is a labelled simulation; the real verdict never changes.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultRegistry } from "../../src/actions/index.js";
import { evaluatePullRequest } from "../../src/github/evaluate.js";
import { gatherPullRequest } from "../../src/github/facts.js";
import { evaluatePolicy, type PolicyFacts } from "../../src/policy/index.js";
import { payloadFor } from "../e2e/webhook-client.js";
import { fixture, REPO, startWorld, type World } from "../integration/github/world.js";
import { ROOT, runAction, scratchRepo, workflowCommands } from "./runner-env.js";

const CLI = path.join(ROOT, "test/fixtures/policy/cli");
const facts = (name: string) => JSON.parse(readFileSync(path.join(CLI, name), "utf8")) as PolicyFacts;
const stricter = { paths: [{ pattern: "/requests/prod/", minApprovals: 2 }] };

describe("policy from a facts file", () => {
  it("outputs the verdict the CLI prints, approved=true, and exits 0", async () => {
    const r = await runAction({ workspace: CLI, inputs: { command: "policy", facts: "rotate-approved.facts.json" } });
    const expected = evaluatePolicy(facts("rotate-approved.facts.json"));
    expect(expected.approved).toBe(true);
    expect(r.code).toBe(0);
    expect(workflowCommands(r.stdout)).toEqual([]);
    expect(r.outputs).toEqual({ approved: "true", verdict: JSON.stringify(expected), problems: "0", simulated: "false" });
    expect(r.summary).toContain("## Clutch Luigi: policy — facts from `rotate-approved.facts.json`");
    expect(r.summary).toContain(`**Approved**: ${expected.summary}`);
    expect(r.summary).toContain(expected.explanation);
    expect(r.summary).not.toContain("simulation");
  });

  it("with config: the proposed policy is a labelled simulation, and approved stays the real verdict", async () => {
    const r = await runAction({ workspace: CLI, inputs: { command: "policy", facts: "rotate-approved.facts.json", config: "stricter.clutch-luigi.yml" } });
    const real = evaluatePolicy(facts("rotate-approved.facts.json"));
    const sim = evaluatePolicy({ ...facts("rotate-approved.facts.json"), config: stricter });
    expect([real.approved, sim.approved]).toEqual([true, false]);
    expect(r.code).toBe(0);
    expect(r.outputs.approved).toBe("true");
    expect(r.outputs.verdict).toBe(JSON.stringify(real));
    expect(r.outputs.simulated).toBe("true");
    expect(r.outputs["proposed-approved"]).toBe("false");
    expect(JSON.parse(r.outputs["proposed-verdict"]!)).toEqual({ simulation: "proposed (simulation)", config: "stricter.clutch-luigi.yml", ...JSON.parse(JSON.stringify(sim)) });
    const [current, proposed] = r.summary.split("### proposed (simulation): `stricter.clutch-luigi.yml`");
    expect(current).toContain(`**Approved**: ${real.summary}`);
    expect(proposed).toContain("A simulation, not the verdict");
    expect(proposed).toContain(`**Not approved**: ${sim.summary}`);
  });

  it("not approved: exits 1 with the missing approvals in the summary", async () => {
    const f = facts("design-example.facts.json");
    const expected = evaluatePolicy(f);
    const r = await runAction({ workspace: CLI, inputs: { command: "policy", facts: "design-example.facts.json" } });
    expect(r.code).toBe(expected.approved ? 0 : 1);
    expect(r.outputs.approved).toBe(String(expected.approved));
    expect(r.outputs.verdict).toBe(JSON.stringify(expected));
  });

  it("an invalid facts file or proposed policy is one error annotation, no verdict", async () => {
    for (const inputs of <Record<string, string>[]>[
      { facts: "missing-fields.facts.json" },
      { facts: "rotate-approved.facts.json", config: "invalid.clutch-luigi.yml" },
      { facts: "no-such.json" },
    ]) {
      const r = await runAction({ workspace: CLI, inputs: { command: "policy", ...inputs } });
      expect(r.code).toBe(1);
      const lines = workflowCommands(r.stdout);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith("::error title=Clutch Luigi::")).toBe(true);
      expect(r.outputs).toEqual({});
    }
  });

  it("without facts, outside a pull_request run, says what it needs", async () => {
    const r = await runAction({ workspace: CLI, inputs: { command: "policy", token: "t" }, env: { GITHUB_EVENT_NAME: "push" } });
    expect(r.code).toBe(1);
    expect(workflowCommands(r.stdout)).toEqual(["::error title=Clutch Luigi::policy needs a facts file, or a pull_request run to read the PR from; this run is a push event"]);
  });
});

describe("policy from the current pull request (token path, local GitHub)", () => {
  let w: World;
  const TOKEN = "ghs_action_test_token_do_not_print";
  const alice = { login: "alice", type: "User" as const };
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => w.close());
  afterEach(() => {
    const violations = w.fake.violations.splice(0);
    w.fake.calls.length = 0;
    expect(violations).toEqual([]);
  });

  function env() {
    return { GITHUB_EVENT_NAME: "pull_request", GITHUB_REPOSITORY: REPO, GITHUB_API_URL: w.url };
  }

  it("gathers the PR's facts with the app's code: authority from the base branch, the same verdict the app's check shows", async () => {
    const p = w.pulls.open(REPO, { author: alice, files: { "requests/2026/restart-checkout.yaml": fixture("requests/restart-checkout.yaml") }, body: "Restart please" });
    w.pulls.review(p, "sam", "APPROVED");
    const r = await runAction({ workspace: ROOT, inputs: { command: "policy", token: TOKEN }, env: env(), event: payloadFor("pull_request", "opened", p) });
    const e = evaluatePullRequest(await gatherPullRequest(w.octokit, { owner: "acme", repo: "ops", pullNumber: p.number }), defaultRegistry());
    expect(e.verdict.approved).toBe(true);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.outputs).toEqual({ approved: "true", verdict: JSON.stringify(e.verdict), problems: "0", simulated: "false" });
    expect(r.summary).toContain(`## Clutch Luigi: policy — acme/ops#${p.number}`);
    expect(r.summary).toContain(`**Approved** at ${p.headSha.slice(0, 7)}`);
    for (const text of [r.stdout, r.summary, r.outputFile]) expect(text).not.toContain(TOKEN);
    expect(w.fake.calls.filter((c) => c.operationId === "pulls/get").map((c) => c.authorization)).toContain(`token ${TOKEN}`);
  });

  it("a PR that changes the policy is judged by the base branch's; its own file only as a labelled simulation", async () => {
    // Approved under the base policy by the platform team; the PR's own file would ask two platform approvals.
    const proposedText = "controlPlane:\n  owners: [\"@acme/platform\"]\n  minApprovals: 2\n";
    const proposedConfig = { controlPlane: { owners: ["@acme/platform"], minApprovals: 2 } };
    const p = w.pulls.open(REPO, { author: alice, files: { ".github/clutch-luigi.yml": proposedText } });
    w.pulls.review(p, "paula", "APPROVED");
    const ws = scratchRepo({ ".github/clutch-luigi.yml": proposedText });
    try {
      const r = await runAction({ workspace: ws.dir, inputs: { command: "policy", token: TOKEN, config: ".github/clutch-luigi.yml" }, env: env(), event: payloadFor("pull_request", "synchronize", p) });
      const g = await gatherPullRequest(w.octokit, { owner: "acme", repo: "ops", pullNumber: p.number });
      expect(g.facts.config).not.toEqual(proposedConfig);
      const real = evaluatePullRequest(g, defaultRegistry()).verdict;
      const sim = evaluatePullRequest({ ...g, facts: { ...g.facts, config: proposedConfig } }, defaultRegistry()).verdict;
      expect([real.approved, sim.approved]).toEqual([true, false]);
      expect(workflowCommands(r.stdout)).toEqual([]);
      expect(r.code).toBe(0);
      expect(r.outputs.approved).toBe("true");
      expect(r.outputs.verdict).toBe(JSON.stringify(real));
      expect(r.outputs.simulated).toBe("true");
      expect(r.outputs["proposed-approved"]).toBe("false");
      expect(JSON.parse(r.outputs["proposed-verdict"]!)).toEqual({ simulation: "proposed (simulation)", config: ".github/clutch-luigi.yml", ...JSON.parse(JSON.stringify(sim)) });
      const [current, proposed] = r.summary.split("### proposed (simulation): `.github/clutch-luigi.yml`");
      expect(current).toContain("**Approved**");
      expect(proposed).toContain("**Not approved**");
      expect(proposed).toContain("A simulation, not the verdict");
      expect(proposed).toContain("if it were on the base branch");
    } finally {
      ws.remove();
    }
  });

  it("the simulation reads the members of a team only the proposed policy names", async () => {
    w.teams.add("acme", "auditors", { aud: "member" });
    w.pulls.setPermission(REPO, "aud", "write");
    const proposedText = "controlPlane:\n  owners: [\"@acme/auditors\"]\n  minApprovals: 1\n";
    const p = w.pulls.open(REPO, { author: alice, files: { ".github/clutch-luigi.yml": proposedText } });
    w.pulls.review(p, "paula", "APPROVED");
    w.pulls.review(p, "aud", "APPROVED");
    const ws = scratchRepo({ ".github/clutch-luigi.yml": proposedText });
    try {
      const r = await runAction({ workspace: ws.dir, inputs: { command: "policy", token: TOKEN, config: ".github/clutch-luigi.yml" }, env: env(), event: payloadFor("pull_request", "opened", p) });
      expect(workflowCommands(r.stdout)).toEqual([]);
      expect(r.outputs["proposed-approved"]).toBe("true");
      expect(w.fake.calls.some((c) => c.operationId === "teams/list-members-in-org" && c.params.team_slug === "auditors")).toBe(true);
    } finally {
      ws.remove();
    }
  });

  it("an event that names no pull request is refused with one annotation and no GitHub call", async () => {
    const r = await runAction({ workspace: ROOT, inputs: { command: "policy", token: TOKEN }, env: env(), event: { action: "opened", repository: { name: "ops" } } });
    expect(r.code).toBe(1);
    expect(workflowCommands(r.stdout)).toEqual(["::error title=Clutch Luigi::the pull_request event does not name a pull request to evaluate (or its action changes nothing the policy reads)"]);
    expect(w.fake.calls).toEqual([]);
  });
});
