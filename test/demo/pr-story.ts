/**
 * `npm run demo`: the whole pull-request story on a machine with no GitHub account and
 * no database server. A local GitHub (the OpenAPI-checked fake the tests use) plays
 * github.com; the real app server receives signed webhooks from it over HTTP, on an
 * embedded database, with in-process workers. Each stage prints a heading and the few
 * lines a person would read on GitHub.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { main } from "../../src/cli/main.js";
import { changeLines, renderTable, type ProgressRun } from "../../src/cli/progress.js";
import { getRun } from "../../src/store/runs.js";
import { startApp, type E2eApp } from "../e2e/app.js";
import { delivery, payloadFor } from "../e2e/webhook-client.js";
import type { FakeCheckRun, FakePull } from "../support/github/pull-request-world.js";
import { until } from "../support/until.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const OPS = "acme/payments-ops";
const REQUEST_PATH = "requests/2026/ops-1302-restart-payments.yaml";

export interface StoryIO {
  write(s: string): void;
  isTTY: boolean;
}

function filesUnder(dir: string, prefix = ""): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(full).isDirectory()) Object.assign(out, filesUnder(full, rel));
    else out[rel] = readFileSync(full);
  }
  return out;
}

/** The deployer the catalog's restart-service calls: 202 once while "restarting", then 200. */
async function startDeployer(): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  let polls = 0;
  const server: Server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    res.setHeader("content-type", "application/json");
    if (req.method === "POST") return void res.writeHead(201).end(JSON.stringify({ id: "rst-7f3a" }));
    polls++;
    if (polls === 1) return void res.writeHead(202).end(JSON.stringify({ state: "restarting" }));
    res.writeHead(200).end(JSON.stringify({ state: "healthy" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((r) => server.close(() => r())),
  };
}


type CheckView = FakeCheckRun;

export async function playStory(io: StoryIO): Promise<{ runId: string; code: number }> {
  const say = (s = "") => io.write(`${s}\n`);
  const stage = (n: number, title: string) => say(`\n== ${n}. ${title}`);
  const indent = (text: string, lines = 6) =>
    text
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("```") && !/^\s*(graph|classDef|class |style )/.test(l))
      .slice(0, lines)
      .forEach((l) => say(`   ${l}`));

  const work = mkdtempSync(path.join(tmpdir(), "clutch-luigi-story-"));
  const deployer = await startDeployer();
  const configPath = path.join(work, "clutch-luigi.server.yml");
  writeFileSync(configPath, `connections:\n  http:\n    deployer: { baseUrl: "${deployer.url}/", audience: deployer }\n`);
  let app: E2eApp | undefined;
  try {
    stage(1, "A local GitHub and the Clutch Luigi app");
    // The data folder is the demo's own, so the audit commands can read it once the app has stopped.
    const dataDir = path.join(work, "data");
    app = await startApp({ env: { CLUTCH_LUIGI_WORKERS: "1", CLUTCH_LUIGI_CONFIG: configPath, CLUTCH_LUIGI_DATA_DIR: dataDir } });
    say(`   GitHub (local, checked against GitHub's OpenAPI description): ${app.world.url}`);
    say(`   the app: ${app.server.url}, webhooks at ${app.webhookUrl}, embedded database, one worker`);

    stage(2, `The ops repository ${OPS}`);
    const world = app.world;
    world.git.createRepo(OPS);
    const files = filesUnder(path.join(ROOT, "docs/example-ops-repo"));
    delete files[REQUEST_PATH];
    world.git.commit(OPS, { branch: "main", files, message: "ops repository" });
    for (const login of ["alice", "sam", "paula"]) world.pulls.setPermission(OPS, login, "write");
    say("   .github/CODEOWNERS       /requests/ @acme/sre   /workflows/ @acme/platform");
    say("   .github/clutch-luigi.yml minApprovals: 1, vetoTeams: @acme/security, break-glass label");
    say("   workflows/               restart-service, rotate-db-credentials (from the catalog)");
    say("   teams                    @acme/sre: sam, sara   @acme/platform: paula");

    const send = async (event: "pull_request" | "pull_request_review", action: string, p: FakePull, extra: Parameters<typeof payloadFor>[3] = {}) => {
      const res = await app!.deliver(delivery(event, payloadFor(event, action, p, extra)));
      if (res.status >= 300) throw new Error(`webhook ${event}.${action} answered ${res.status}: ${res.text}`);
    };
    const checks = (sha: string, name: string): CheckView[] => world.checks.runs.filter((c) => c.headSha === sha && c.name === name);
    const latest = (sha: string, name: string) => checks(sha, name).at(-1);
    const settled = async (sha: string, name: string, count: number) => until(`${name} on ${sha.slice(0, 7)}`, () => (checks(sha, name).length >= count ? latest(sha, name) : undefined));

    stage(3, "alice opens a pull request adding a request");
    const request = readFileSync(path.join(ROOT, "docs/example-ops-repo", REQUEST_PATH), "utf8");
    const alice = { login: "alice", type: "User" as const };
    const p = world.pulls.open(OPS, { author: alice, files: { [REQUEST_PATH]: request }, title: "OPS-1302 restart payments-gateway" });
    indent(request, 5);
    await send("pull_request", "opened", p);

    stage(4, "What a reviewer reads on the pull request");
    const plan = await settled(p.headSha, "clutch-luigi/plan", 1);
    let policy = await settled(p.headSha, "clutch-luigi/policy", 1);
    say(`   clutch-luigi/plan    ${plan.conclusion}: ${plan.output.title ?? ""}`);
    indent(plan.output.summary ?? "", 4);
    say(`   clutch-luigi/policy  ${policy.conclusion}: ${policy.output.title ?? ""}`);
    indent(policy.output.summary ?? "", 4);

    stage(5, "alice approves her own request");
    world.pulls.review(p, "alice", "APPROVED");
    const before = checks(p.headSha, "clutch-luigi/policy").length;
    await send("pull_request_review", "submitted", p, { sender: "alice" });
    policy = await until("the policy after alice's review", () => {
      const c = latest(p.headSha, "clutch-luigi/policy")!;
      // Same conclusion, new text: the policy run is updated in place, so look at what it says.
      return checks(p.headSha, "clutch-luigi/policy").length > before || `${c.output.summary ?? ""}\n${c.output.text ?? ""}`.includes("alice") ? c : undefined;
    });
    say(`   clutch-luigi/policy  ${policy.conclusion}: ${policy.output.title}`);
    const refusedLine = `${policy.output.summary ?? ""}\n${policy.output.text ?? ""}`.split("\n").find((l) => /Not counted: alice/.test(l));
    say(`   ${refusedLine?.trim() ?? "(alice's approval is not listed as refused)"}`);

    stage(6, "sam (@acme/sre, a code owner of requests/) approves");
    world.pulls.review(p, "sam", "APPROVED");
    await send("pull_request_review", "submitted", p, { sender: "sam" });
    policy = await until("the policy to pass", () => {
      const c = latest(p.headSha, "clutch-luigi/policy");
      return c?.conclusion === "success" ? c : undefined;
    });
    say(`   clutch-luigi/policy  ${policy.conclusion}: ${policy.output.title}`);

    stage(7, "The pull request is merged");
    const mergeSha = world.git.commit(OPS, { branch: "main", files: { [REQUEST_PATH]: request }, author: "web-flow", message: `Merge pull request #${p.number}` });
    world.pulls.markMerged(p, mergeSha);
    await send("pull_request", "closed", p, { merged: true, mergeCommitSha: mergeSha, sender: "sam" });
    const started = await settled(mergeSha, "clutch-luigi/run", 1);
    const runId = await until("the run id", async () => {
      const rows = (await app!.server.store.db.raw("select id from runs order by created_at desc limit 1")) as { rows?: { id: string }[] } | { id: string }[];
      const list = Array.isArray(rows) ? rows : (rows.rows ?? []);
      return list[0]?.id;
    });
    say(`   clutch-luigi/run     ${started.status}: ${started.output.title}`);
    say(`   Run ${runId} is on the merge commit ${mergeSha.slice(0, 7)}`);

    stage(8, "The run, live");
    const terminal = new Set(["succeeded", "failed", "rolled_back", "rollback_failed", "cancelled"]);
    let prev: ProgressRun | null = null;
    let drawn = 0;
    const t0 = Date.now();
    const final = await until(
      "the run to finish",
      async () => {
        const run = await getRun(app!.server.store, runId);
        if (!run) return undefined;
        const view: ProgressRun = run;
        if (io.isTTY) {
          const table = renderTable(view, Date.now() - t0);
          if (drawn > 0) io.write(`\x1b[${drawn}F`);
          io.write(table.map((l) => `\x1b[2K   ${l}`).join("\n") + "\n");
          drawn = table.length;
        } else {
          for (const line of changeLines(prev, view, new Date().toISOString().slice(11, 23))) say(`   ${line}`);
        }
        prev = view;
        return terminal.has(run.state) ? run : undefined;
      },
      60_000,
    );
    say(`   run ${runId}: ${final.state}; the deployer saw ${deployer.calls.length} calls (${deployer.calls.map((c) => c.split(" ")[0]).join(", ")})`);

    stage(9, "The pull request afterwards: the run check and the outcome comment");
    const done = await until("the run check to complete", () => {
      const c = latest(mergeSha, "clutch-luigi/run");
      return c?.status === "completed" ? c : undefined;
    });
    say(`   clutch-luigi/run     ${done.status} ${done.conclusion}: ${done.output.title}`);
    indent((done.output.summary ?? "").split("\n").filter((l) => l.startsWith("|") && !l.startsWith("| ---")).join("\n"), 8);
    // The one comment the app leaves on the PR when the run ends, as GitHub received it.
    const comment = await until("the outcome comment", () => world.comments.on(OPS, p.number).at(-1));
    say(`   comment by ${comment.author}:`);
    indent(comment.body.split("\n").filter((l) => !l.startsWith("<!--")).join("\n"), 10);

    stage(10, "For the auditor: audit show and audit verify");
    // The embedded database serves one process at a time: the app stops, then the CLI reads it.
    const env = { CLUTCH_LUIGI_DATA_DIR: path.join(work, "data") };
    await app.close();
    app = undefined;
    const cli = async (argv: string[]) => {
      let out = "";
      const sink = { write: (s: string) => ((out += s), true) };
      const code = await main(argv, { stdout: sink, stderr: sink, cwd: work, env });
      return { code, out };
    };
    say(`   $ clutch-luigi audit show ${runId}`);
    const shown = await cli(["audit", "show", runId]);
    indent(shown.out, 14);
    say("   $ clutch-luigi audit verify");
    const verified = await cli(["audit", "verify"]);
    indent(verified.out, 2);
    const code1 = shown.code;
    const code2 = verified.code;
    return { runId, code: final.state === "succeeded" && code1 === 0 && code2 === 0 ? 0 : 1 };
  } finally {
    await app?.close();
    await deployer.close();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t0 = Date.now();
  // Steps' own JSON log lines (the server writes them to stderr) are not part of the story.
  const stderrWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
    typeof chunk === "string" && chunk.startsWith('{"level"') ? true : stderrWrite(chunk, ...rest)) as typeof process.stderr.write;
  playStory({ write: (s) => process.stdout.write(s), isTTY: Boolean(process.stdout.isTTY) })
    .then(({ code }) => {
      process.stdout.write(`\nThe story took ${((Date.now() - t0) / 1000).toFixed(1)} s.\n`);
      process.exit(code);
    })
    .catch((e: unknown) => {
      process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    });
}
