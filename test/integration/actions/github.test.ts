/**
 * The GitHub actions driven through a real Octokit against the local GitHub fake,
 * whose every request and response is checked against GitHub's OpenAPI description.
 */
import { Octokit } from "@octokit/rest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { githubTeamMembership } from "../../../src/actions/builtin/github-team-membership.js";
import { githubWorkflowDispatch, WORKFLOW_DISPATCH_CALLBACKS } from "../../../src/actions/builtin/github-workflow-dispatch.js";
import { startFakeGitHub, type StartedFakeGitHub } from "../../support/github/index.js";
import { failure, testContext } from "./context-helper.js";

let gh: StartedFakeGitHub;
let octokit: Octokit;

beforeAll(async () => {
  gh = await startFakeGitHub();
  octokit = new Octokit({ baseUrl: gh.url, auth: "ghs_test_installation_token", log: { debug() {}, info() {}, warn() {}, error() {} } });
  gh.teams.add("acme", "dba", { bob: "maintainer", carol: "member" });
  gh.actions.addWorkflow("acme/ops", "deploy.yml", "success");
  gh.actions.addWorkflow("acme/ops", "broken.yml", "failure");
});
afterAll(async () => gh.close());
afterEach(() => {
  const violations = gh.fake.violations.splice(0);
  gh.fake.calls.length = 0;
  // Every exchange must have matched GitHub's description.
  expect(violations).toEqual([]);
});

const ctx = async () => (await testContext({ services: { github: octokit } })).ctx;

describe("github.team-membership", () => {
  it("adds a user, and rollback removes them again", async () => {
    const c = await ctx();
    const input = { org: "acme", team: "dba", username: "dave" };
    const out = await githubTeamMembership.run(input, c);
    expect(out).toMatchObject({ state: "active", previous: "none", previousState: "none", changed: true, restore: "none" });
    expect(gh.teams.memberOf("acme", "dba", "dave")).toEqual({ role: "member", state: "active" });
    expect(gh.fake.calls.map((x) => x.operationId)).toEqual(["teams/get-membership-for-user-in-org", "teams/add-or-update-membership-for-user-in-org"]);
    await githubTeamMembership.rollback!(input, out, c);
    expect(gh.teams.memberOf("acme", "dba", "dave")).toBeUndefined();
  });

  it("leaves an existing member alone, and its rollback never removes access it did not grant", async () => {
    const c = await ctx();
    const input = { org: "acme", team: "dba", username: "carol" };
    const out = await githubTeamMembership.run(input, c);
    expect(out.changed).toBe(false);
    expect(gh.fake.calls.map((x) => x.method)).toEqual(["GET"]);
    await githubTeamMembership.rollback!(input, out, c);
    expect(gh.teams.memberOf("acme", "dba", "carol")?.role).toBe("member");
  });

  it("rolls a role change back to the previous role", async () => {
    const c = await ctx();
    const input = { org: "acme", team: "dba", username: "carol", role: "maintainer" as const };
    const out = await githubTeamMembership.run(input, c);
    expect(out).toMatchObject({ changed: true, previous: "member", restore: "member" });
    expect(gh.teams.memberOf("acme", "dba", "carol")?.role).toBe("maintainer");
    await githubTeamMembership.rollback!(input, out, c);
    expect(gh.teams.memberOf("acme", "dba", "carol")?.role).toBe("member");
  });

  it("removes with state: absent (the end of temporary access), and rollback restores", async () => {
    const c = await ctx();
    gh.teams.add("acme", "oncall", { erin: "member" });
    const input = { org: "acme", team: "oncall", username: "erin", state: "absent" as const };
    const out = await githubTeamMembership.run(input, c);
    expect(out).toMatchObject({ state: "absent", previous: "member", previousState: "active", changed: true });
    expect(gh.teams.memberOf("acme", "oncall", "erin")).toBeUndefined();
    expect(await githubTeamMembership.run(input, c)).toMatchObject({ changed: false, previousState: "none" });
    await githubTeamMembership.rollback!(input, out, c);
    expect(gh.teams.memberOf("acme", "oncall", "erin")?.role).toBe("member");
  });

  it("check reports the work as done only when the membership already holds", async () => {
    const c = await ctx();
    expect(await githubTeamMembership.check!({ org: "acme", team: "dba", username: "bob", role: "maintainer" }, c)).toMatchObject({ state: "active", changed: false });
    // bob is a maintainer: a grant of member would lower him, so it counts as done (and changes nothing).
    expect(await githubTeamMembership.check!({ org: "acme", team: "dba", username: "bob" }, c)).toMatchObject({ changed: false, previous: "maintainer", restore: "unchanged" });
    expect(await githubTeamMembership.check!({ org: "acme", team: "dba", username: "carol", role: "maintainer" }, c)).toBeUndefined();
    expect(await githubTeamMembership.check!({ org: "acme", team: "dba", username: "zed" }, c)).toBeUndefined();
    expect(await githubTeamMembership.check!({ org: "acme", team: "dba", username: "zed", state: "absent" }, c)).toMatchObject({ state: "absent" });
  });

  it("a retry measures against the membership the first attempt recorded, but never claims a higher role as its own", async () => {
    const memos = new Map<string, unknown>();
    const stepMemo = {
      async remember(run: string, step: string, v: unknown) {
        if (!memos.has(`${run}/${step}`)) memos.set(`${run}/${step}`, v);
        return memos.get(`${run}/${step}`);
      },
      async recall(run: string, step: string) {
        return memos.get(`${run}/${step}`);
      },
    };
    const c = (await testContext({ services: { github: octokit, stepMemo } })).ctx;
    gh.teams.add("acme", "memo", {});
    // The first attempt records "none" and grants; its answer is lost.
    const first = await githubTeamMembership.run({ org: "acme", team: "memo", username: "uma" }, c);
    expect(first).toMatchObject({ previous: "none", changed: true });
    expect(memos.get("run-1/step-1")).toEqual({ membership: "none", state: "none" });
    // The retry (same run and step) finds uma a member, and still knows she was not one: the
    // change is the step's own, so check() does not call it skipped, and run() reports it.
    expect(await githubTeamMembership.check!({ org: "acme", team: "memo", username: "uma" }, c)).toBeUndefined();
    expect(await githubTeamMembership.run({ org: "acme", team: "memo", username: "uma" }, c)).toMatchObject({ previous: "none", changed: true, restore: "none" });
    // Someone made her a maintainer meanwhile: that is not the grant's doing, and no undo lowers it.
    gh.teams.add("acme", "memo", { uma: "maintainer" });
    expect(await githubTeamMembership.check!({ org: "acme", team: "memo", username: "uma" }, c)).toMatchObject({ previous: "maintainer", changed: false, restore: "unchanged" });
    // A memo that is not a membership is refused rather than trusted.
    memos.set("run-1/step-1", { membership: "toString", state: "none" });
    expect((await failure(githubTeamMembership.run({ org: "acme", team: "memo", username: "uma" }, c))).code).toBe("invalid-input");
  });

  it("classifies GitHub failures for retry policies", async () => {
    const c = await ctx();
    const input = { org: "acme", team: "dba", username: "frank" };
    gh.fake.fail("PUT /orgs/{org}/teams/{team_slug}/memberships/{username}", 502);
    expect((await failure(githubTeamMembership.run(input, c))).code).toBe("http-5xx");
    gh.fake.fail("GET /orgs/{org}/teams/{team_slug}/memberships/{username}", 429);
    expect((await failure(githubTeamMembership.run(input, c))).code).toBe("http-429");
    expect((await failure(githubTeamMembership.run({ org: "acme", team: "no-such-team", username: "frank" }, c))).code).toBe("http-4xx");
  });

  it("needs a GitHub client in its services, or a token named in the server configuration", async () => {
    const { ctx: bare } = await testContext();
    const err = await failure(githubTeamMembership.run({ org: "acme", team: "dba", username: "x" }, bare));
    expect(err.code).toBe("misconfigured");
    expect(err.message).toMatch(/github\.tokenSecret/);
    expect(err.message).toMatch(/APP_ID/);
  });

  it("without a client in its services, uses the token from github.tokenSecret (clutch-luigi run, worker)", async () => {
    const token = "ghs_c0nfigured_Token_771";
    const { ctx: c, logs } = await testContext({
      config: `secrets:\n  gh: { env: GH_TOKEN }\ngithub: { tokenSecret: gh, apiUrl: "${gh.url}/" }\n`,
      env: { GH_TOKEN: token },
    });
    const out = await githubTeamMembership.run({ org: "acme", team: "dba", username: "gina" }, c);
    expect(out).toMatchObject({ changed: true, state: "active" });
    expect(gh.teams.memberOf("acme", "dba", "gina")).toEqual({ role: "member", state: "active" });
    expect(gh.fake.calls.map((x) => x.authorization)).toEqual([`token ${token}`, `token ${token}`]);
    c.log.info(`used ${token}`);
    expect(JSON.stringify(logs)).not.toContain(token);
    await githubTeamMembership.rollback!({ org: "acme", team: "dba", username: "gina" }, out, c);
  });
});

describe("github.workflow-dispatch", () => {
  it("dispatches with inputs and waits for a successful conclusion by polling", async () => {
    const c = await ctx();
    const out = await githubWorkflowDispatch.run(
      { repository: "acme/ops", workflow: "deploy.yml", ref: "main", inputs: { service: "api", replicas: 3, dryRun: false }, pollInterval: "10ms" },
      c,
    );
    const run = gh.actions.runs.at(-1)!;
    expect(out).toEqual({ runId: run.id, htmlUrl: `https://github.com/acme/ops/actions/runs/${run.id}`, status: "completed", conclusion: "success" });
    expect(run.inputs).toEqual({ service: "api", replicas: "3", dryRun: "false" });
    expect(run.ref).toBe("main");
    const ops = gh.fake.calls.map((x) => x.operationId);
    expect(ops[0]).toBe("actions/create-workflow-dispatch");
    expect(ops.slice(1).every((o) => o === "actions/get-workflow-run")).toBe(true);
    expect(ops.length).toBeGreaterThanOrEqual(3);
  });

  it("a callback from the workflow run wakes the waiting step at once; the conclusion is still read from GitHub", async () => {
    let calledBack = false;
    const c = (await testContext({ services: { github: octokit, [WORKFLOW_DISPATCH_CALLBACKS]: async () => (calledBack ? { status: "completed" } : null) } })).ctx;
    const t0 = Date.now();
    setTimeout(() => (calledBack = true), 300);
    // A poll a minute apart would take two minutes to see queued → in_progress → completed.
    const out = await githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", pollInterval: "60s" }, c);
    expect(out).toMatchObject({ status: "completed", conclusion: "success" });
    expect(Date.now() - t0).toBeLessThan(15_000);
    // It read the run from GitHub until GitHub said completed: the callback only woke it.
    expect(gh.fake.calls.filter((x) => x.operationId === "actions/get-workflow-run").length).toBeGreaterThanOrEqual(2);
  });

  it("with callbackInputs, tells the workflow which run and step to call back", async () => {
    const c = (await testContext({ services: { github: octokit }, identity: { runId: "0b0e7c1e-4a7e-4f3a-9d3e-1a2b3c4d5e6f", stepId: "deploy" } })).ctx;
    await githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", inputs: { service: "api" }, callbackInputs: true, wait: false }, c);
    expect(gh.actions.runs.at(-1)!.inputs).toEqual({ service: "api", clutch_run: "0b0e7c1e-4a7e-4f3a-9d3e-1a2b3c4d5e6f", clutch_step: "deploy" });
    const clash = await failure(githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", inputs: { clutch_run: "forged" }, callbackInputs: true }, c));
    expect(clash.code).toBe("invalid-input");
    const many = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`k${i}`, "v"]));
    expect((await failure(githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", inputs: many, callbackInputs: true }, c))).message).toMatch(/at most 25/);
    expect(gh.fake.calls).toHaveLength(1);
  });

  it("fails with workflow-failed when the run does not succeed", async () => {
    const err = await failure(githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "broken.yml", ref: "main", pollInterval: "10ms" }, await ctx()));
    expect(err.code).toBe("workflow-failed");
    expect(err.message).toMatch(/concluded failure: https:\/\/github\.com\/acme\/ops\/actions\/runs\/\d+/);
  });

  it("returns at once with wait: false", async () => {
    const out = await githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", wait: false }, await ctx());
    expect(out).toMatchObject({ status: "queued", conclusion: null });
    expect(gh.fake.calls).toHaveLength(1);
  });

  it("finds the run by listing when the server answers 204 without run details", async () => {
    gh.actions.legacyDispatch = true;
    try {
      const out = await githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "deploy.yml", ref: "release", pollInterval: "10ms" }, await ctx());
      expect(out.runId).toBe(gh.actions.runs.at(-1)!.id);
      expect(gh.fake.calls.map((x) => x.operationId)).toContain("actions/list-workflow-runs");
    } finally {
      gh.actions.legacyDispatch = false;
    }
  });

  it("stops polling when the step is aborted", async () => {
    const t = await testContext({ services: { github: octokit } });
    gh.actions.readsPerState = 1000;
    try {
      const pending = failure(githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", pollInterval: "50ms" }, t.ctx));
      setTimeout(() => t.abort.abort(new Error("timeout")), 200);
      expect((await pending).code).toBe("timeout");
    } finally {
      gh.actions.readsPerState = 1;
    }
  });

  it("reports an unknown workflow as a final 4xx", async () => {
    expect((await failure(githubWorkflowDispatch.run({ repository: "acme/ops", workflow: "nope.yml", ref: "main" }, await ctx()))).code).toBe("http-4xx");
  });
});

describe("the GitHub fake", () => {
  it("refuses to serve a route GitHub does not have", () => {
    expect(() => gh.fake.route("GET /orgs/{org}/made-up", () => ({ status: 200 }))).toThrow(/no GET \/orgs\/\{org\}\/made-up/);
  });

  it("answers requests that break GitHub's description with 422 and records the violation", async () => {
    const res = await fetch(`${gh.url}/orgs/acme/teams/dba/memberships/bob`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ role: "owner" }),
    });
    expect(res.status).toBe(422);
    expect(gh.fake.violations.join("\n")).toMatch(/request body\/role must be equal to one of the allowed values/);
    gh.fake.violations.length = 0;
  });

  it("records responses that break GitHub's description", async () => {
    gh.fake.route("GET /orgs/{org}/teams/{team_slug}", () => ({ status: 200, body: { id: "not-a-number" } }));
    await fetch(`${gh.url}/orgs/acme/teams/dba`);
    expect(gh.fake.violations.some((v) => v.startsWith("GET /orgs/{org}/teams/{team_slug} → 200: response 200"))).toBe(true);
    gh.fake.violations.length = 0;
  });
});
