/**
 * Workers act as the app, end to end: a merged PR asking for temporary access starts a
 * run on a shared Postgres; a `clutch-luigi worker` started separately — with only the
 * app's credentials (APP_ID, PRIVATE_KEY, GHE_HOST), no github.tokenSecret, no server
 * configuration — executes `github.team-membership` with an installation token it
 * minted for the run's installation, scoped to the run's repository. Revoking the
 * grant early rolls it back with the same identity.
 */
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { rowsOf } from "../../src/store/db.js";
import { revokeRun } from "../../src/store/run-control.js";
import { getRun } from "../../src/store/runs.js";
import { REPO } from "../integration/github/world.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { PG_UP } from "../support/pg-suite.js";
import { sharedKeysEnv } from "../support/shared-keys.js";
import { startApp, type E2eApp } from "./app.js";
import { delivery, INSTALLATION_ID, payloadFor } from "./webhook-client.js";
import { until } from "../support/until.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const REQUEST_PATH = "requests/access/dave-prod-readers.yaml";
const REQUEST = `apiVersion: clutch-luigi/v1
kind: Request
workflow: temporary-access
reason: "INC-4711 read prod logs"
params: { user: dave, team: prod-readers, duration: 30m }
`;

let db: TestDatabase;
let app: E2eApp;
let keys: Awaited<ReturnType<typeof sharedKeysEnv>>;

beforeAll(async () => {
  if (!PG_UP) return;
  db = await createTestDatabase("cl_e2e_as_app");
  keys = await sharedKeysEnv();
  app = await startApp({ env: { DATABASE_URL: db.url, ...keys } });
  // The catalog's workflow is part of the ops repository's control plane on main.
  app.world.git.commit(REPO, { branch: "main", files: { "workflows/temporary-access.yaml": readFileSync(path.join(ROOT, "workflows/temporary-access.yaml")) }, message: "catalog: temporary-access" });
  app.world.teams.add("acme", "prod-readers", { carol: "member" });
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});
afterEach(() => {
  if (app) expect(app.world.fake.violations.splice(0)).toEqual([]);
});


describe.skipIf(!PG_UP)("temporary access from a merged PR, executed by a worker acting as the app", () => {
  it("grants with an installation token minted from the app's JWT and scoped to the run's repository, and rolls back with it", async () => {
    const alice = { login: "alice", type: "User" as const };
    const p = app.world.pulls.open(REPO, { author: alice, files: { [REQUEST_PATH]: REQUEST } });
    app.world.pulls.review(p, "sam", "APPROVED"); // CODEOWNERS of requests/: @acme/sre
    app.world.pulls.review(p, "sec", "APPROVED"); // the workflow's approval.from: @acme/security
    // The approvals are evaluated before the merge, as the review's own delivery would: a merge runs only what an evaluation approved.
    expect((await app.deliver(delivery("pull_request_review", payloadFor("pull_request_review", "submitted", p, { sender: "sec" })))).status).toBe(200);
    const mergeSha = app.world.git.commit(REPO, { branch: "main", files: { [REQUEST_PATH]: REQUEST }, author: "web-flow", message: `Merge pull request #${p.number}` });
    app.world.pulls.markMerged(p, mergeSha);
    const res = await app.deliver(delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" })));
    expect(res.status).toBe(200);

    const [run] = rowsOf<{ id: string; installation_id: string | number | null }>(await app.server.store.db.raw("select id, installation_id from runs"));
    expect(run).toBeDefined();
    // The installation the webhook came from is recorded with the run.
    expect(Number(run!.installation_id)).toBe(INSTALLATION_ID);

    // Another machine: only the app's credentials and the database. No tokenSecret, no config file.
    const gheHost = new URL(app.world.url).host;
    const env: NodeJS.ProcessEnv = { DATABASE_URL: db.url, ...keys, APP_ID: app.env.APP_ID, PRIVATE_KEY: app.env.PRIVATE_KEY, GHE_HOST: gheHost, GHE_PROTOCOL: "http" };
    const ctl = new AbortController();
    let stderr = "";
    const worker = main(["worker", "--poll", "50ms", "--lease", "5s"], {
      stdout: { write: () => true },
      stderr: { write: (c: string) => (stderr += c) },
      cwd: ROOT,
      env,
      signal: ctl.signal,
    });
    try {
      await until("the grant", async () => ((await getRun(app.server.store, run!.id))?.steps.find((s) => s.stepId === "grant")?.state === "succeeded" ? true : undefined));
      expect(app.world.teams.memberOf("acme", "prod-readers", "dave")).toEqual({ role: "member", state: "active" });

      const membership = () => app.world.fake.calls.filter((c) => c.template === "/orgs/{org}/teams/{team_slug}/memberships/{username}" && c.params.username === "dave");
      // Every token minted for the run is scoped to its repository (the worker's for the steps; the
      // server's reporter mints its own for the run check).
      const scoped = app.tokenRequests.filter((t) => t.repositories);
      expect(scoped.length).toBeGreaterThanOrEqual(1);
      for (const t of scoped) expect(t).toMatchObject({ installationId: String(INSTALLATION_ID), repositories: ["ops"] });
      const minted = scoped.find((t) => membership().some((c) => c.authorization === `token ${t.token}`))!;
      expect(minted).toBeDefined();
      // Minted with the app's own JWT: signed by its private key, issued by APP_ID.
      const jwt = /^bearer (.+)$/i.exec(minted.authorization ?? "")![1]!;
      const { payload } = await jwtVerify(jwt, createPublicKey(app.env.PRIVATE_KEY!));
      expect(payload.iss).toBe(app.env.APP_ID);

      // check() and run() each read the membership, then the grant writes it: all as the app.
      expect(membership().map((c) => c.method)).toEqual(["GET", "GET", "PUT"]);
      expect(membership().every((c) => c.authorization === `token ${minted.token}`)).toBe(true);

      // The grant is in force until its expiry; the run armed the timer when it succeeded.
      await until("the run to succeed", async () => ((await getRun(app.server.store, run!.id))?.state === "succeeded" ? true : undefined));
      // Revoked early: the same worker undoes it, with the same app identity and the same (cached) token.
      await revokeRun(app.server.store, run!.id, "dave");
      let last = "";
      const final = await until(
        "the rollback",
        async () => {
          const r = await getRun(app.server.store, run!.id);
          last = JSON.stringify({ state: r?.state, steps: r?.steps.map((x) => [x.stepId, x.state, x.error]), stderr });
          return r && ["rolled_back", "cancelled", "failed"].includes(r.state) ? r : undefined;
        },
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}: ${last}`);
      });
      expect(final.steps.find((s) => s.stepId === "grant")?.state).toBe("rolled_back");
      expect(app.world.teams.memberOf("acme", "prod-readers", "dave")).toBeUndefined();
      expect(app.world.teams.memberOf("acme", "prod-readers", "carol")).toEqual({ role: "member", state: "active" });
      expect(membership().filter((c) => c.method === "DELETE").map((c) => c.authorization)).toEqual([`token ${minted.token}`]);
      // The worker reused its cached token for the rollback: at most one per process was minted.
      expect(app.tokenRequests.filter((t) => t.repositories).length).toBeLessThanOrEqual(2);
    } finally {
      ctl.abort();
      expect(await worker).toBe(0);
    }
    expect(stderr).toContain(`GitHub steps use app ${app.env.APP_ID} on each run's installation`);
    // Neither the app's key nor the token is printed by the worker.
    expect(stderr).not.toContain(app.tokenRequests.at(-1)!.token);
    expect(stderr).not.toContain("PRIVATE KEY");
  });
});
