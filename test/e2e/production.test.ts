/**
 * The production shape, end to end: two app replicas (`npm start`'s entry point, as
 * separate processes) behind a load balancer, two `clutch-luigi worker` processes on
 * other "machines" (only the app's credentials and the database), one Postgres, and
 * the local GitHub. Fifty pull requests are opened, approved and merged; halfway
 * through one replica and one worker are killed with SIGKILL. Every request runs
 * exactly once, every pull request ends with a completed run check and one outcome
 * comment, and the audit chain is intact.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { openStore, rowsOf, type Store } from "../../src/store/db.js";
import { verifyAuditChain } from "../../src/store/audit.js";
import { REPO, startWorld, type World } from "../integration/github/world.js";
import { LoadBalancer } from "../support/load-balancer.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { PG_UP } from "../support/pg-suite.js";
import { sharedKeysEnv } from "../support/shared-keys.js";
import { serveAppAuth } from "./app-auth.js";
import { delivery, payloadFor, post, type Delivery } from "./webhook-client.js";
import { until } from "../support/until.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TSX = pathToFileURL(path.join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
const SECRET = "production-shape-secret";
const PRS = Number(process.env.CL_PROD_PRS ?? 50);

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<unknown>;
}

function start(name: string, script: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Proc {
  const child = spawn(process.execPath, ["--import", TSX, path.join(ROOT, script), ...args], { cwd, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const p: Proc = { name, child, log: "", exited: new Promise((r) => child.once("exit", r)) };
  const keep = (c: Buffer) => (p.log = (p.log + c.toString()).slice(-20_000));
  child.stderr!.on("data", keep);
  child.stdout!.on("data", keep);
  return p;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}


let db: TestDatabase | undefined;
let world: World | undefined;
let lb: LoadBalancer | undefined;
let store: Store | undefined;
const procs: Proc[] = [];
let work = "";

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
  await Promise.all(procs.map((p) => p.exited));
  await store?.close();
  await lb?.close();
  await world?.close();
  await db?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!PG_UP)("the production shape: two replicas behind a load balancer, two workers, one Postgres", () => {
  it(`${PRS} pull requests each run once and report, through a kill -9 of one replica and one worker`, async () => {
    db = await createTestDatabase("cl_prod");
    world = await startWorld();
    const tokens = serveAppAuth(world);
    work = mkdtempSync(path.join(tmpdir(), "cl-prod-"));
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const app = {
      APP_ID: "424242",
      PRIVATE_KEY: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      GHE_HOST: new URL(world.url).host,
      GHE_PROTOCOL: "http",
      DATABASE_URL: db.url,
      ...(await sharedKeysEnv()),
    };
    // Migrations are a release step, before any process starts.
    const quiet = { write: () => true };
    expect(await main(["migrate"], { stdout: quiet, stderr: quiet, cwd: work, env: { DATABASE_URL: db.url } })).toBe(0);

    // The fake has no secondary rate limits: unpaced, the lone survivor works the backlog in
    // seconds. Paced (one write a second per process, GitHub's advice), 50 pull requests' ~300
    // check-run writes take it five minutes, past this test's wait, though nothing is stuck.
    const ports = [await freePort(), await freePort()];
    const replicas = ports.map((port, i) =>
      start(`app-${i}`, "src/server/start.ts", [], { ...app, WEBHOOK_SECRET: SECRET, PORT: String(port), HOST: "127.0.0.1", CLUTCH_LUIGI_WORKERS: "0", CLUTCH_LUIGI_GITHUB_WRITE_PACING: "off", CLUTCH_LUIGI_WEBHOOK_LEASE_MS: "5000", LOG_LEVEL: (process.env.CL_PROD_LOG ?? "fatal") as NodeJS.ProcessEnv["LOG_LEVEL"], CLUTCH_LUIGI_DATA_DIR: path.join(work, `data-${i}`) }, work),
    );
    const workers = [0, 1].map((i) => start(`worker-${i}`, "src/cli/bin.ts", ["worker", "--poll", "100ms", "--lease", "3s"], { ...app, CLUTCH_LUIGI_DATA_DIR: path.join(work, `wdata-${i}`) }, work));
    procs.push(...replicas, ...workers);
    for (const r of replicas) await until(`${r.name} to listen`, () => (/listening on/.test(r.log) ? true : undefined), 60_000, () => r.log);
    for (const w of workers) await until(`${w.name} to start`, () => (/GitHub steps use app/.test(w.log) ? true : undefined), 60_000, () => w.log);
    lb = await new LoadBalancer(ports.map((p) => `http://127.0.0.1:${p}`)).start();
    const hook = `${lb.url}/api/github/webhooks`;

    // GitHub redelivers a delivery that was not answered with a 2xx (the same delivery id).
    let redelivered = 0;
    const send = async (d: Delivery): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        const res = await post(hook, SECRET, d);
        if (res.status < 300) return;
        if (attempt >= 8) throw new Error(`delivery ${d.event} ${d.id} kept failing: ${res.status} ${res.text}`);
        redelivered++;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    };

    const merged: { pull: number; mergeSha: string; path: string }[] = [];
    for (let i = 0; i < PRS; i++) {
      const file = `requests/prod/restart-${String(i).padStart(2, "0")}.yaml`;
      const text = `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: restart-service\nreason: "OPS-${1000 + i} rolling restart"\nparams: { service: ${i % 2 ? "search" : "checkout"} }\n`;
      const p = world.pulls.open(REPO, { author: { login: "alice", type: "User" }, files: { [file]: text } });
      await send(delivery("pull_request", payloadFor("pull_request", "opened", p)));
      world.pulls.review(p, "sam", "APPROVED");
      await send(delivery("pull_request_review", payloadFor("pull_request_review", "submitted", p, { sender: "sam" })));
      const mergeSha = world.git.commit(REPO, { branch: "main", files: { [file]: text }, author: "web-flow", message: `Merge pull request #${p.number}` });
      world.pulls.markMerged(p, mergeSha);
      await send(delivery("pull_request", payloadFor("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" })));
      merged.push({ pull: p.number, mergeSha, path: file });
      if (i === Math.floor(PRS / 2)) {
        // Halfway: one replica and one worker die without a chance to clean up.
        replicas[0]!.child.kill("SIGKILL");
        workers[0]!.child.kill("SIGKILL");
        await Promise.all([replicas[0]!.exited, workers[0]!.exited]);
      }
    }

    store = await openStore({ databaseUrl: db.url, poolMax: 2, migrate: false });
    const s = store;
    const states = async () => rowsOf<{ request_path: string; state: string }>(await s.db.raw("select request_path, state from runs"));
    let seen: { request_path: string; state: string }[] = [];
    let queue: unknown[] = [];
    let activity: unknown[] = [];
    await until(`all ${PRS} runs to succeed`, async () => {
      seen = await states();
      activity = rowsOf(await s.db.raw("select application_name as app, state, wait_event_type as wt, wait_event as we, left(query, 120) as q, extract(epoch from now() - xact_start)::int as xs from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"));
      queue = rowsOf(await s.db.raw("select state, claimed_by, claimed_until > now() as leased, event, action, count(*)::int as n, max(attempts) as attempts, max(last_error) as error from webhook_deliveries where state <> 'done' group by 1,2,3,4,5"));
      return seen.length === PRS && seen.every((r) => r.state === "succeeded") ? true : undefined;
    }, Number(process.env.CL_PROD_WAIT ?? 180_000), () => `${seen.length} runs: ${JSON.stringify(seen.filter((r) => r.state !== "succeeded"))}; queue ${JSON.stringify(queue)}; activity ${JSON.stringify(activity)}; ${procs.map((p) => `${p.name} (pid ${p.child.pid}): ${p.log.slice(-(Number(process.env.CL_PROD_TAIL ?? 500)))}`).join(" | ")}`);
    // Each request ran exactly once: one run per request file, no second run for any.
    const rows = await states();
    expect(new Set(rows.map((r) => r.request_path)).size).toBe(PRS);
    expect(rows).toHaveLength(PRS);

    // Every PR shows its run completed, once, and carries one outcome comment.
    const w = world;
    await until("every run check to complete and every comment to be posted", () =>
      merged.every((m) => w.checks.runs.some((c) => c.name === "clutch-luigi/run" && c.headSha === m.mergeSha && c.conclusion === "success") && w.comments.on(REPO, m.pull).length === 1) ? true : undefined,
    60_000);
    for (const m of merged) {
      const checks = w.checks.runs.filter((c) => c.name === "clutch-luigi/run" && c.headSha === m.mergeSha);
      expect(checks.map((c) => c.conclusion)).toEqual(["success"]);
      expect(w.comments.on(REPO, m.pull)).toHaveLength(1);
    }
    // Each step ran once: no attempt of any step was repeated, though a worker died.
    const repeats = rowsOf<{ n: number }>(await s.db.raw("select count(*)::int as n from attempts where phase = 'forward' and outcome = 'succeeded' group by run_id, step_id having count(*) > 1"));
    expect(repeats).toEqual([]);
    expect((await verifyAuditChain(s.db)).ok).toBe(true);
    expect(w.fake.violations).toEqual([]);
    // The survivors took over: the load balancer sent the rest to the live replica.
    expect(lb.served.filter((i) => i === 1).length).toBeGreaterThan(PRS);
    // Workers and reporters acted as the app with tokens scoped to the repository.
    expect(tokens.filter((t) => t.repositories).every((t) => t.repositories!.join() === "ops")).toBe(true);
    process.stderr.write(`production shape: ${PRS} PRs, ${redelivered} redeliveries after the kill\n`);
  }, 420_000);
});
