/**
 * Where GitHub actions get their credentials on a worker: the app's installation
 * token for the run's installation (scoped to the run's repository, or the dispatched
 * repository), `github.tokenSecret` as an explicit override, and a clear
 * `misconfigured` failure when neither is there.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { githubTeamMembership } from "../../../src/actions/builtin/github-team-membership.js";
import { githubWorkflowDispatch } from "../../../src/actions/builtin/github-workflow-dispatch.js";
import { createGitHubAppService } from "../../../src/runtime/github-app.js";
import type { GitHubCallObserver } from "../../../src/github/observe-calls.js";
import { startFakeGitHub, type StartedFakeGitHub } from "../../support/github/index.js";
import { failure, testContext } from "./context-helper.js";

const PEM = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
let gh: StartedFakeGitHub;
let minted = 0;

beforeAll(async () => {
  gh = await startFakeGitHub();
  gh.teams.add("acme", "dba", { carol: "member" });
  gh.actions.addWorkflow("acme/deploys", "deploy.yml", "success");
  gh.fake.route("POST /app/installations/{installation_id}/access_tokens", () => {
    minted++;
    const expires_at = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    return { status: 201, body: gh.fake.api.sample("installation-token", { token: `ghs_app_${minted}`, expires_at }) };
  });
});
afterAll(async () => gh?.close());
afterEach(() => {
  expect(gh.fake.violations.splice(0)).toEqual([]);
  gh.fake.calls.length = 0;
});

function appService(installations: Record<string, number | null>, lookups: string[] = [], observe?: GitHubCallObserver) {
  return createGitHubAppService(
    { appId: "99", privateKey: PEM, baseUrl: gh.url },
    async (runId) => {
      lookups.push(runId);
      return installations[runId] ?? null;
    },
    undefined,
    observe,
  );
}

const exchanges = () => gh.fake.calls.filter((c) => c.operationId === "apps/create-installation-access-token");

describe("GitHub credentials on a worker", () => {
  it("acts as the app on the run's installation, scoped to the run's repository, and never logs the token", async () => {
    const lookups: string[] = [];
    const { ctx, logs } = await testContext({ services: { githubApp: appService({ "run-1": 4242 }, lookups) } });
    const out = await githubTeamMembership.run({ org: "acme", team: "dba", username: "ivy" }, ctx);
    expect(out).toMatchObject({ changed: true, previous: "none" });
    expect(exchanges().map((c) => [c.params.installation_id, c.body])).toEqual([["4242", { repositories: ["ops"] }]]);
    const token = `ghs_app_${minted}`;
    const used = gh.fake.calls.filter((c) => c.operationId !== "apps/create-installation-access-token").map((c) => c.authorization);
    expect(used).toEqual([`token ${token}`, `token ${token}`]);
    ctx.log.info(`the token was ${token}`);
    expect(JSON.stringify(logs)).not.toContain(token);
    // The installation is read once per run, not per call.
    await githubTeamMembership.rollback!({ org: "acme", team: "dba", username: "ivy" }, out, ctx);
    expect(lookups).toEqual(["run-1"]);
    expect(gh.teams.memberOf("acme", "dba", "ivy")).toBeUndefined();
  });

  it("reports each call's route template and status, and the rate limit left, to the metrics' observer", async () => {
    const calls: string[] = [];
    const left: [number, number][] = [];
    gh.fake.responseHeaders["x-ratelimit-remaining"] = "777";
    try {
      const observe: GitHubCallObserver = { call: (route, status) => calls.push(`${route} ${status}`), rateLimitRemaining: (i, n) => left.push([i, n]) };
      const { ctx } = await testContext({ services: { githubApp: appService({ "run-1": 4242 }, [], observe) } });
      const out = await githubTeamMembership.run({ org: "acme", team: "dba", username: "ivy" }, ctx);
      await githubTeamMembership.rollback!({ org: "acme", team: "dba", username: "ivy" }, out, ctx);
    } finally {
      delete gh.fake.responseHeaders["x-ratelimit-remaining"];
    }
    expect(calls).toContain("PUT /orgs/{org}/teams/{team_slug}/memberships/{username} 200");
    expect(calls.every((c) => /^(GET|PUT|DELETE|POST) \/[\w{}/-]+ \d{3}$/.test(c))).toBe(true);
    expect(left.length).toBeGreaterThan(0);
    expect(left.every(([i, n]) => i === 4242 && n === 777)).toBe(true);
  });

  it("a workflow dispatch gets a token scoped to the repository it dispatches to", async () => {
    const { ctx } = await testContext({ services: { githubApp: appService({ "run-1": 4242 }) } });
    await githubWorkflowDispatch.run({ repository: "acme/deploys", workflow: "deploy.yml", ref: "main", wait: false }, ctx);
    expect(exchanges().map((c) => c.body)).toEqual([{ repositories: ["deploys"] }]);
  });

  it("github.tokenSecret is an explicit override: with it set, the app's identity is not used", async () => {
    const { ctx } = await testContext({
      config: `secrets:\n  gh: { env: GH_TOKEN }\ngithub: { tokenSecret: gh, apiUrl: "${gh.url}/" }\n`,
      env: { GH_TOKEN: "ghp_operator_chosen" },
      services: { githubApp: appService({ "run-1": 4242 }) },
    });
    await githubTeamMembership.run({ org: "acme", team: "dba", username: "carol" }, ctx);
    expect(exchanges()).toEqual([]);
    expect(gh.fake.calls.map((c) => c.authorization)).toEqual(["token ghp_operator_chosen"]);
  });

  it("a run started without an installation cannot act as the app, and says what to configure", async () => {
    const { ctx } = await testContext({ services: { githubApp: appService({}) } });
    const err = await failure(githubTeamMembership.run({ org: "acme", team: "dba", username: "x" }, ctx));
    expect(err.code).toBe("misconfigured");
    expect(err.message).toMatch(/not started from a GitHub App installation/);
    expect(err.message).toMatch(/github\.tokenSecret/);
    expect(gh.fake.calls).toEqual([]);
  });

  it("neither the app's credentials nor a token: misconfigured, naming both", async () => {
    const { ctx } = await testContext();
    const err = await failure(githubTeamMembership.run({ org: "acme", team: "dba", username: "x" }, ctx));
    expect(err.code).toBe("misconfigured");
    expect(err.message).toMatch(/APP_ID and PRIVATE_KEY or PRIVATE_KEY_PATH/);
    expect(err.message).toMatch(/github\.tokenSecret/);
  });

  it("an installation GitHub refuses a token for is misconfigured, never read as \"not a member\"", async () => {
    // A revoke that took the exchange's 404 for the membership's 404 would think access was gone.
    gh.teams.add("acme", "dba", { kim: "member" });
    gh.fake.fail("POST /app/installations/{installation_id}/access_tokens", 404);
    const { ctx } = await testContext({ services: { githubApp: appService({ "run-1": 777 }) } });
    const err = await failure(githubTeamMembership.run({ org: "acme", team: "dba", username: "kim", restore: "none" }, ctx));
    expect(err.code).toBe("misconfigured");
    expect(err.message).toMatch(/installation 777.*404/);
    expect(err.message).not.toMatch(/PRIVATE KEY|eyJ/);
    expect(gh.fake.calls.map((c) => c.operationId)).toEqual(["apps/create-installation-access-token"]);
    expect(gh.teams.memberOf("acme", "dba", "kim")).toEqual({ role: "member", state: "active" });
  });

  it("GitHub failing to mint a token is retryable like any GitHub outage", async () => {
    gh.fake.fail("POST /app/installations/{installation_id}/access_tokens", 503);
    const { ctx } = await testContext({ services: { githubApp: appService({ "run-1": 4242 }) } });
    expect((await failure(githubTeamMembership.check!({ org: "acme", team: "dba", username: "carol" }, ctx))).code).toBe("http-5xx");
  });
});
