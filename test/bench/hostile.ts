/**
 * `npm run bench:hostile`: the worst request, workflow and CODEOWNERS shapes a PR
 * author can send under the size limits, each through `validate` (files on disk,
 * as the CLI and the Action read them) and through the evaluation a pull_request
 * webhook runs (parse, check against the catalog, policy, both check-run payloads
 * split into API calls). Prints the median time of each; every one should be well
 * under 1 s on an idle machine.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { defaultRegistry } from "../../src/actions/index.js";
import { MAX_FILE_BYTES, validatePaths } from "../../src/formats/index.js";
import { MAX_TOKENS } from "../../src/formats/source.js";
import { evaluatePullRequest } from "../../src/github/evaluate.js";
import type { GatheredPullRequest } from "../../src/github/facts.js";
import { renderPlanCheck, renderPolicyCheck, splitAnnotations } from "../../src/github/render.js";
import { CODEOWNERS_MAX_BYTES } from "../../src/policy/codeowners.js";
import { wildcardCodeownersNearLimit } from "../support/hostile-codeowners.js";
import * as hostile from "../support/hostile-files.js";
import { gathered } from "../unit/github/gathered.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const registry = defaultRegistry();

/** The largest `n` whose `make(n)` stays under `limit` bytes. */
function largest(make: (n: number) => string, limit = MAX_FILE_BYTES): string {
  let lo = 1;
  let hi = 2;
  while (Buffer.byteLength(make(hi)) < limit) hi *= 2;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (Buffer.byteLength(make(mid)) < limit) lo = mid;
    else hi = mid;
  }
  return make(lo);
}

const workflowHead = "apiVersion: clutch-luigi/v1\nkind: Workflow\nname: hostile\nparams:\n  type: object\n  additionalProperties: false\n  properties:\n    value: { type: string, pattern: \"^(a+)+$\" }\n";
const workflowShapes: Record<string, string> = {
  "workflow: comment lines": largest((n) => "# OPS-1234 see runbook\n".repeat(n) + workflowHead + "steps:\n  - { id: s, uses: noop }\n"),
  "workflow: steps in a chain": largest((n) => workflowHead + "steps:\n  - { id: s0, uses: noop }\n" + Array.from({ length: n }, (_, i) => `  - { id: s${i + 1}, uses: noop, needs: [s${i}] }\n`).join("")),
  "workflow: keys in params": largest((n) => workflowHead + Array.from({ length: n }, (_, i) => `    p${i}: { type: string }\n`).join("") + "steps:\n  - { id: s, uses: noop }\n"),
  "workflow: nested brackets": largest((n) => workflowHead + "steps:\n  - { id: s, uses: noop, with: { x: " + "[".repeat(n) + "]".repeat(n) + " } }\n"),
};

// Room for the webhook rows, which name the fixture's "restart-service" instead of "hostile".
const REQUEST_LIMIT = MAX_FILE_BYTES - 16;
const requestShapes: Record<string, string> = {
  "request: comment lines": largest((n) => hostile.commentedRequest(n), REQUEST_LIMIT),
  "request: distinct keys": largest((n) => hostile.manyKeysRequest(n), REQUEST_LIMIT),
  // Just under the lexer's token limit, so these are parsed and checked in full.
  "request: distinct keys at the token limit": hostile.manyKeysRequest(Math.floor((MAX_TOKENS - 20) / 3)),
  "request: duplicate keys at the token limit": hostile.duplicateKeysRequest(Math.floor((MAX_TOKENS - 20) / 3)),
  "request: duplicate keys": largest((n) => hostile.duplicateKeysRequest(n), REQUEST_LIMIT),
  "request: nested brackets": largest((n) => hostile.deepRequest(n), REQUEST_LIMIT),
  "request: one long value vs ^(a+)+$": largest((n) => hostile.longLineRequest(n), REQUEST_LIMIT),
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => unknown): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const rows: { shape: string; kb: number; path: string; ms: number; problems: number }[] = [];
const dir = mkdtempSync(path.join(tmpdir(), "bench-hostile-"));
try {
  mkdirSync(path.join(dir, "workflows"));
  mkdirSync(path.join(dir, "requests"));
  // The catalog the requests name: one param that must match ^(a+)+$.
  writeFileSync(path.join(dir, "workflows", "hostile.yaml"), workflowHead + "steps:\n  - { id: s, uses: noop }\n");

  for (const [shape, text] of Object.entries(workflowShapes)) {
    const wdir = mkdtempSync(path.join(dir, "w-"));
    mkdirSync(path.join(wdir, "workflows"));
    const file = path.join(wdir, "workflows", "hostile.yaml");
    writeFileSync(file, text);
    let problems = 0;
    const ms = await time(async () => {
      problems = (await validatePaths([file], { registry, cwd: dir })).reduce((n, r) => n + r.problems.length, 0);
    });
    rows.push({ shape, kb: Buffer.byteLength(text) / 1024, path: "validate", ms, problems });
  }

  for (const [shape, text] of Object.entries(requestShapes)) {
    const file = path.join(dir, "requests", "hostile.yaml");
    writeFileSync(file, text);
    let problems = 0;
    const ms = await time(async () => {
      problems = (await validatePaths([file], { registry, cwd: dir })).reduce((n, r) => n + r.problems.length, 0);
    });
    rows.push({ shape, kb: Buffer.byteLength(text) / 1024, path: "validate", ms, problems });

    // The webhook's evaluation: the same request on a PR against the fixture ops repository.
    const g: GatheredPullRequest = gathered("requests/hostile.yaml", text.replace("workflow: hostile", "workflow: restart-service"));
    let annotations = 0;
    const wms = await time(() => {
      const e = evaluatePullRequest(g, registry);
      const plan = splitAnnotations(renderPlanCheck(e));
      splitAnnotations(renderPolicyCheck(e));
      annotations = (plan.create.output.annotations?.length ?? 0) + plan.updates.reduce((n, u) => n + (u.output.annotations?.length ?? 0), 0);
    });
    rows.push({ shape, kb: Buffer.byteLength(text) / 1024, path: "webhook evaluation", ms: wms, problems: annotations });
  }

  // 40,000 unknown params: problems and annotations are capped, so the check run is two calls at most.
  const unknown = `apiVersion: clutch-luigi/v1\nkind: Request\nworkflow: restart-service\nreason: "OPS-9 many"\nparams:\n  service: checkout\n${Array.from({ length: 40_000 }, (_, i) => `  p${i}: ${i}`).join("\n")}\n`;
  let calls = 0;
  const ums = await time(() => {
    const e = evaluatePullRequest(gathered("requests/many.yaml", unknown), registry);
    calls = 1 + splitAnnotations(renderPlanCheck(e)).updates.length;
  });
  rows.push({ shape: `request: 40,000 unknown params (${calls} check-run call${calls === 1 ? "" : "s"})`, kb: Buffer.byteLength(unknown) / 1024, path: "webhook evaluation", ms: ums, problems: calls });

  // CODEOWNERS (read at the base branch): wildcard lines up to GitHub's 3 MB, and owners shaped against the email check.
  const codeowners: Record<string, string> = {
    "CODEOWNERS: wildcard lines": wildcardCodeownersNearLimit().join("\n") + "\n",
    "CODEOWNERS: dotted email owners": largest((n) => `requests/ a@${".".repeat(n)}@\n`, CODEOWNERS_MAX_BYTES),
  };
  const request = hostile.commentedRequest(0).replace("workflow: hostile", "workflow: restart-service").replace("params: { value: ok }", "params: { service: checkout }");
  for (const [shape, text] of Object.entries(codeowners)) {
    const g = gathered("requests/restart.yaml", request);
    g.facts.codeowners = text;
    const ms = await time(() => renderPolicyCheck(evaluatePullRequest(g, registry)));
    rows.push({ shape, kb: Buffer.byteLength(text) / 1024, path: "webhook evaluation", ms, problems: 0 });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const pad = (s: string, n: number): string => s.padEnd(n);
console.log(`bench:hostile — median of ${RUNS} runs\n`);
console.log(`${pad("shape", 56)} ${pad("size", 9)} ${pad("path", 19)} ${pad("ms", 8)} problems/annotations`);
for (const r of rows) console.log(`${pad(r.shape, 56)} ${pad(`${r.kb.toFixed(0)} KB`, 9)} ${pad(r.path, 19)} ${pad(r.ms.toFixed(0), 8)} ${r.problems}`);
const slowest = Math.max(...rows.map((r) => r.ms));
console.log(`\nslowest: ${slowest.toFixed(0)} ms${slowest < 1000 ? " (all under 1 s)" : " — over 1 s"}`);
