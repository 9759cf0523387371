/**
 * A break-glass run is followed up, end to end: the reason is in the hashed
 * run.created row; the outcome comment asks for a follow-up and the run check offers
 * "Record follow-up"; the requester and an outsider are refused (audited); a code
 * owner records it (run.followed_up); until then `audit list --open-follow-ups` lists
 * the run and /metrics counts it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { listAuditEvents } from "../../src/store/audit.js";
import { rowsOf } from "../../src/store/db.js";
import { openFollowUps } from "../../src/store/follow-ups.js";
import type { FakeCheckRun } from "../support/github/pull-request-world.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { PG_UP } from "../support/pg-suite.js";
import { sharedKeysEnv } from "../support/shared-keys.js";
import { REPO } from "../integration/github/world.js";
import { startApp, type E2eApp } from "./app.js";
import { requestedActionPayload } from "./check-run-client.js";
import { delivery, payloadFor } from "./webhook-client.js";
import { until } from "../support/until.js";

const PATH = "requests/bg-restart.yaml";
const REQUEST = `apiVersion: clutch-luigi/v1
kind: Request
workflow: restart-service
reason: "INC-42 checkout is down"
params: { service: checkout }
`;
const alice = { login: "alice", type: "User" as const };

let db: TestDatabase;
let app: E2eApp;
beforeAll(async () => {
  if (!PG_UP) return;
  db = await createTestDatabase("cl_e2e_breakglass");
  app = await startApp({ env: { DATABASE_URL: db.url, ...(await sharedKeysEnv()), CLUTCH_LUIGI_WORKERS: "1" } });
}, 60_000);
afterAll(async () => {
  await app?.close();
  await db?.drop();
});
afterEach(() => {
  if (app) expect(app.world.fake.violations.splice(0)).toEqual([]);
});


describe.skipIf(!PG_UP)("a break-glass run's follow-up", () => {
  it("is asked for, refused to the requester and an outsider, recorded by a code owner, and listed until then", async () => {
    const p = app.world.pulls.open(REPO, { author: alice, files: { [PATH]: REQUEST }, labels: ["break-glass"], body: "Checkout is down.\n\nBreak-glass: INC-42 checkout down, no second reviewer awake" });
    app.world.pulls.review(p, "sam", "APPROVED");
    await app.deliver(delivery("pull_request_review", payloadFor("pull_request_review", "submitted", p, { sender: "sam" })));
    const mergeSha = app.world.git.commit(REPO, { branch: "main", files: { [PATH]: REQUEST }, author: "web-flow", message: `Merge pull request #${p.number}` });
    app.world.pulls.markMerged(p, mergeSha);
    await app.deliver(delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" })));
    const runId = rowsOf<{ id: string }>(await app.server.store.db.raw("select id from runs where request_path = ?", [PATH]))[0]!.id;

    // The reason is in the hashed row.
    const created = (await listAuditEvents(app.server.store.db, { runId, limit: 100 })).find((r) => r.kind === "run.created")!;
    expect(created.data).toMatchObject({ breakGlass: true, evidence: { breakGlass: { label: "break-glass", reason: "INC-42 checkout down, no second reviewer awake" } } });

    const latest = (): FakeCheckRun | undefined => app.world.checks.runs.filter((c) => c.headSha === mergeSha && c.name === "clutch-luigi/run").at(-1);
    const done = await until("the run check to offer the follow-up", () => (latest()?.conclusion === "success" ? latest() : undefined));
    const comment = await until("the comment", () => app.world.comments.on(REPO, p.number).at(-1));
    expect(comment.body).toContain("Break-glass follow-up needed");
    expect(done.output.summary).toContain("needs a follow-up review");
    // Until then: listed by the CLI and counted in /metrics.
    expect((await openFollowUps(app.server.store.db)).map((f) => f.runId)).toEqual([runId]);
    let out = "";
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true }, cwd: process.cwd(), env: { DATABASE_URL: db.url } };
    expect(await main(["audit", "list", "--open-follow-ups"], io)).toBe(0);
    expect(out).toMatch(new RegExp(`^${runId.slice(0, 8)}  restart-service  ${PATH}  @alice  acme/ops#${p.number}  succeeded  open \\d+m$`, "m"));
    await until("/metrics to count it", async () => ((await (await fetch(`${app.server.url}/metrics`)).text()).match(/^clutch_luigi_break_glass_open_follow_ups 1$/m) ? true : undefined), 15_000);

    const click = async (who: { login: string; type: string }) => app.deliver(delivery("check_run", requestedActionPayload(latest()!, "follow-up", who, runId)));
    await click(alice);
    await click({ login: "rita", type: "User" });
    const refused = (await listAuditEvents(app.server.store.db, { runId, limit: 100 })).filter((r) => r.kind === "run.action_refused");
    expect(refused.map((r) => [r.actor, r.data.code])).toEqual([["alice", "own-run"], ["rita", "not-authorized"]]);
    expect(await openFollowUps(app.server.store.db)).toHaveLength(1);

    await click({ login: "sam", type: "User" });
    const followed = (await listAuditEvents(app.server.store.db, { runId, limit: 100 })).filter((r) => r.kind === "run.followed_up");
    expect(followed).toEqual([expect.objectContaining({ actor: "sam", data: expect.objectContaining({ by: "sam", as: "codeowner" }) })]);
    expect(await openFollowUps(app.server.store.db)).toEqual([]);
    // The PR says so: the comment is edited (one comment), the check no longer asks.
    await until("the comment to name the follow-up", () => (app.world.comments.on(REPO, p.number).at(-1)?.body.includes("followed up by @sam") ? true : undefined));
    expect(app.world.comments.on(REPO, p.number)).toHaveLength(1);
    // A second follow-up is refused: it is recorded once.
    await click({ login: "sam", type: "User" });
    expect((await listAuditEvents(app.server.store.db, { runId, limit: 100 })).filter((r) => r.kind === "run.action_refused").at(-1)).toMatchObject({ data: { code: "already-followed-up" } });
  }, 120_000);
});
