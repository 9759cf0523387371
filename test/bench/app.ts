/**
 * `npm run bench:app`: 500 pull request events, signed and POSTed over HTTP to
 * the real server (`npm start`'s, embedded database) with the Probot
 * middleware, against the OpenAPI-checked local GitHub. Events are sent one at
 * a time so each one's latency is its own. Prints, per event kind: webhook
 * answer p50/p99, webhook → check visible p50/p99 (until GitHub received the
 * event's last check-run write), check writes and counted API calls (304s and
 * the app's own token exchange are not counted, as GitHub does not count them
 * against the installation).
 *
 * The physical bound, in the same run: an empty Probot app (handlers that do
 * nothing) behind the same Probot middleware, answering the same deliveries.
 * Probot's Octokit throttling spaces every write of a process a second apart;
 * the main table runs without it to measure the app, and a short second run
 * with it on shows what it adds. BENCH_APP_PRS sets the PR count (5 events
 * each); BENCH_APP_POSTGRES=1 runs on a fresh database on TEST_DATABASE_URL's
 * server instead of the embedded one.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { createNodeMiddleware, createProbot } from "probot";
import { fixture, REPO } from "../integration/github/world.js";
import { startApp, WEBHOOK_SECRET, type E2eApp } from "../e2e/app.js";
import { delivery, payloadFor, post } from "../e2e/webhook-client.js";
import type { FakePull } from "../support/github/pull-request-world.js";
import { createTestDatabase, type TestDatabase } from "../support/pg.js";
import { sharedKeysEnv } from "../support/shared-keys.js";

const PRS = Number(process.env.BENCH_APP_PRS ?? 100);
/** PRs whose five events run first, unmeasured: the token exchange, JIT, the first reads of the base branch. */
const WARMUP = Number(process.env.BENCH_APP_WARMUP ?? 20);
const alice = { login: "alice", type: "User" as const };

type Kind = "opened" | "synchronize" | "review" | "edited";
interface Sample {
  kind: Kind;
  answerMs: number;
  /** Of which the local GitHub spent answering (it shares this process's event loop). */
  fakeMs: number;
  visibleMs: number | null;
  writes: number;
  counted: number;
  status: number;
}

interface Step {
  kind: Kind;
  event: "pull_request" | "pull_request_review";
  action: string;
  sender?: string;
  /** Changes the fake GitHub before the delivery (a push, a review). */
  prepare(p: FakePull): void;
}

const text = (i: number): string =>
  fixture("requests/restart-checkout.yaml")
    .replace("OPS-1234", `OPS-${1000 + i}`)
    .replace("checkout }", i % 2 === 0 ? "checkout }" : "search }");

/** Five events per PR, in this order across all PRs (so the caches see interleaved PRs, as a busy repository does). */
function steps(world: E2eApp["world"]): Step[] {
  return [
    { kind: "opened", event: "pull_request", action: "opened", prepare: () => undefined },
    { kind: "review", event: "pull_request_review", action: "submitted", sender: "sam", prepare: (p) => void world.pulls.review(p, "sam", "APPROVED") },
    { kind: "synchronize", event: "pull_request", action: "synchronize", prepare: (p) => void world.pulls.push(p, { [requestPaths.get(p)!]: text(p.number + 1) }) },
    { kind: "review", event: "pull_request_review", action: "submitted", sender: "sam", prepare: (p) => void world.pulls.review(p, "sam", "APPROVED") },
    // A label or an edit that changes nothing the checks show.
    { kind: "edited", event: "pull_request", action: "labeled", prepare: () => undefined },
  ];
}

function pct(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const ms = (v: number): string => (Number.isNaN(v) ? "—" : v < 10 ? v.toFixed(1) : v.toFixed(0));

async function sendAll(app: E2eApp, pulls: FakePull[], plan: Step[], limit = Infinity): Promise<Sample[]> {
  const out: Sample[] = [];
  const fake = app.world.fake;
  for (const step of plan) {
    for (const p of pulls) {
      if (out.length >= limit) return out;
      step.prepare(p);
      const d = delivery(step.event, payloadFor(step.event, step.action, p, step.sender ? { sender: step.sender } : {}));
      const from = fake.calls.length;
      const t0 = performance.now();
      const res = await post(app.webhookUrl, WEBHOOK_SECRET, d);
      const answerMs = performance.now() - t0;
      // The answer comes once the delivery is stored; the checks follow from the queue.
      await app.server.deliveries.idle();
      const calls = fake.calls.slice(from);
      const writes = calls.filter((c) => c.template.includes("/check-runs"));
      out.push({
        kind: step.kind,
        answerMs,
        fakeMs: calls.reduce((a, c) => a + c.ms, 0),
        visibleMs: writes.length > 0 ? writes.at(-1)!.at - t0 : null,
        writes: writes.length,
        counted: fake.countedCalls(from).length,
        status: res.status,
      });
    }
  }
  return out;
}

/** The one request file each PR adds (a push edits that file, so the PR keeps one request). */
const requestPaths = new Map<FakePull, string>();

function openPulls(app: E2eApp, n: number, prefix: string): FakePull[] {
  return Array.from({ length: n }, (_, i) => {
    const path = `requests/${prefix}/pr-${i + 1}.yaml`;
    const p = app.world.pulls.open(REPO, { author: alice, files: { [path]: text(i) } });
    requestPaths.set(p, path);
    return p;
  });
}

/** The same deliveries to a Probot app whose handlers do nothing: signature check, parse, route, answer. */
async function emptyAppBound(app: E2eApp, pulls: FakePull[]): Promise<number[]> {
  const env = { ...app.env, LOG_LEVEL: "fatal" as const };
  const probot = createProbot({ env, overrides: { baseUrl: app.world.url } });
  const handler = await createNodeMiddleware(
    (a) => {
      a.on(["pull_request", "pull_request_review"], async () => undefined);
    },
    { probot, webhooksPath: "/api/github/webhooks" },
  );
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;
  const out: number[] = [];
  try {
    for (const step of steps(app.world)) {
      for (const p of pulls) {
        const d = delivery(step.event, payloadFor(step.event, step.action, p, step.sender ? { sender: step.sender } : {}));
        const t0 = performance.now();
        const res = await post(url, WEBHOOK_SECRET, d);
        out.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`empty app answered ${res.status}`);
      }
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
  return out;
}

/**
 * The floor under each sequential stage of an evaluation: one read of a PR
 * from the local GitHub, through plain Octokit and through Probot's Octokit
 * (whose throttling and retry plugins each schedule every request through a
 * Bottleneck limiter) with its plugins on and off.
 */
async function clientBounds(app: E2eApp, p: FakePull): Promise<string[][]> {
  const { Octokit } = await import("@octokit/rest");
  const { ProbotOctokit } = await import("probot");
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const params = { owner: p.owner, repo: p.repo, pull_number: p.number };
  const clients: [string, { request: (route: string, params: object) => Promise<unknown> }][] = [
    ["@octokit/rest", new Octokit({ baseUrl: app.world.url, auth: "ghs_bench", log: quiet })],
    ["Probot's Octokit (default)", new ProbotOctokit({ baseUrl: app.world.url, auth: { token: "ghs_bench" }, log: quiet } as never)],
    ["Probot's Octokit, throttling off", new ProbotOctokit({ baseUrl: app.world.url, auth: { token: "ghs_bench" }, log: quiet, throttle: { enabled: false } } as never)],
    ["Probot's Octokit, throttling and retry off", new ProbotOctokit({ baseUrl: app.world.url, auth: { token: "ghs_bench" }, log: quiet, throttle: { enabled: false }, retry: { enabled: false } } as never)],
  ];
  const rows: string[][] = [];
  for (const [name, client] of clients) {
    const times: number[] = [];
    const fake: number[] = [];
    for (let i = 0; i < 300; i++) {
      const from = app.world.fake.calls.length;
      const t0 = performance.now();
      await client.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", params);
      times.push(performance.now() - t0);
      fake.push(app.world.fake.calls[from]!.ms);
    }
    rows.push([name, ms(pct(times.slice(50), 0.5)), ms(pct(times.slice(50), 0.99)), ms(pct(fake, 0.5))]);
  }
  return rows;
}

function table(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
}

const HEAD = ["event", "n", "answer p50 ms", "p99 ms", "without local GitHub p50 ms", "p99 ms", "→ check visible p50 ms", "p99 ms", "check writes/event", "counted calls/event", "max"];

function summarize(label: string, samples: Sample[]): string[] {
  const answers = samples.map((s) => s.answerMs);
  const visible = samples.map((s) => s.visibleMs).filter((v): v is number => v !== null);
  const counted = samples.map((s) => s.counted);
  const writes = samples.map((s) => s.writes);
  const mean = (v: number[]) => (v.reduce((a, b) => a + b, 0) / Math.max(1, v.length)).toFixed(1);
  const own = samples.map((s) => s.answerMs - s.fakeMs);
  return [
    label,
    String(samples.length),
    ms(pct(answers, 0.5)),
    ms(pct(answers, 0.99)),
    ms(pct(own, 0.5)),
    ms(pct(own, 0.99)),
    visible.length ? ms(pct(visible, 0.5)) : "—",
    visible.length ? ms(pct(visible, 0.99)) : "—",
    mean(writes),
    mean(counted),
    String(Math.max(...counted)),
  ];
}

async function main(): Promise<void> {
  const pg: TestDatabase | undefined = process.env.BENCH_APP_POSTGRES === "1" ? await createTestDatabase("cl_bench_app") : undefined;
  const env = pg ? { DATABASE_URL: pg.url, ...(await sharedKeysEnv()) } : undefined;
  try {
    await measure(env);
  } finally {
    await pg?.drop();
  }
}

async function measure(env: NodeJS.ProcessEnv | undefined): Promise<void> {
  const app = await startApp({ throttle: false, ...(env ? { env } : {}) });
  try {
    // Warm-up, not measured: the token exchange, JIT, the first reads of the base branch.
    await sendAll(app, openPulls(app, WARMUP, "warmup"), steps(app.world));
    const pulls = openPulls(app, PRS, "bench");
    const t0 = performance.now();
    const samples = await sendAll(app, pulls, steps(app.world));
    const wall = performance.now() - t0;
    const failed = samples.filter((s) => s.status !== 200).length;
    if (failed > 0) throw new Error(`${failed} deliveries were not answered 200`);
    if (app.world.fake.violations.length > 0) throw new Error(`fake GitHub violations:\n${app.world.fake.violations.slice(0, 5).join("\n")}`);

    if (process.env.BENCH_APP_SLOWEST) for (const [i, s] of samples.map((s, i) => [i, s] as const).sort((a, b) => b[1].answerMs - a[1].answerMs).slice(0, 12)) console.log(`#${i} ${s.kind} ${s.answerMs.toFixed(0)} ms, ${s.counted} counted`);
    const bound = await emptyAppBound(app, openPulls(app, PRS, "bound"));
    const clients = await clientBounds(app, pulls[0]!);

    console.log(`${samples.length} events over ${PRS} PRs, one at a time, after ${WARMUP * 5} unmeasured, in ${(wall / 1000).toFixed(1)} s, ${env ? "Postgres" : "embedded database (PGlite)"} (Probot write throttling off)\n`);
    const head = HEAD;
    const kinds: Kind[] = ["opened", "synchronize", "review", "edited"];
    table(head, [
      ...kinds.map((k) => summarize(k === "edited" ? "labeled (no change)" : k === "review" ? "review (approve)" : k, samples.filter((s) => s.kind === k))),
      summarize("all", samples),
      ["empty Probot app (bound)", String(bound.length), ms(pct(bound, 0.5)), ms(pct(bound, 0.99)), "—", "—", "—", "—", "—", "—", "—"],
    ]);
    console.log("\nOne GET of a pull request from the local GitHub (300 in a row, the first 50 not counted):\n");
    table(["client", "p50 ms", "p99 ms", "of which the local GitHub, p50 ms"], clients);
  } finally {
    await app.close();
  }

  // Probot's default: writes spaced a second apart per process.
  // Its own database: the first run's server has closed its store.
  const throttledDb = env ? await createTestDatabase("cl_bench_app_t") : undefined;
  const throttled = await startApp(throttledDb ? { env: { ...env, DATABASE_URL: throttledDb.url } } : {});
  try {
    await sendAll(throttled, openPulls(throttled, 1, "warmup"), steps(throttled.world));
    const samples = await sendAll(throttled, openPulls(throttled, 4, "bench"), steps(throttled.world));
    console.log(`\nWith Probot's write throttling on (its default), ${samples.length} events:\n`);
    table(HEAD, [
      ...(["opened", "synchronize", "review"] as Kind[]).map((k) => summarize(k, samples.filter((s) => s.kind === k))),
    ]);
  } finally {
    await throttled.close();
    await throttledDb?.drop();
  }
}

await main();
