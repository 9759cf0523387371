/**
 * Cold start of the bundled action: a fresh `node action/dist/index.js`
 * validating docs/example-ops-repo, as a runner starts it for each step.
 * Prints a table; `npm run bench:action [RUNS]`.
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const runs = Number(process.argv[2] ?? 10);
const times: number[] = [];
for (let i = 0; i < runs + 1; i++) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(ROOT, "action/dist/index.js")], {
    env: { PATH: process.env.PATH ?? "", GITHUB_WORKSPACE: path.join(ROOT, "docs/example-ops-repo"), INPUT_COMMAND: "validate", INPUT_PATHS: "requests/** workflows/**" },
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`the action failed: ${r.stdout}${r.stderr}`);
  if (i > 0) times.push(ms); // the first run warms the file cache only
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(0);
console.log(`| runs | min ms | median ms | p90 ms | max ms | node | cpus |`);
console.log(`|---|---|---|---|---|---|---|`);
console.log(`| ${runs} | ${at(0)} | ${at(0.5)} | ${at(0.9)} | ${at(1)} | ${process.version} | ${cpus().length} × ${cpus()[0]?.model ?? "?"} |`);
