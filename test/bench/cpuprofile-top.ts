/**
 * Top self-time functions over V8 CPU profiles (`node --cpu-prof`), e.g. the bench's
 * engine workers run with BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR":
 *
 *   tsx test/bench/cpuprofile-top.ts DIR [fromUs toUs] [steps]
 *
 * fromUs/toUs (CLOCK_MONOTONIC µs, as BENCH_VERBOSE's `window` lines print) keep only
 * the samples taken while the work ran, so start-up and module loading are left out.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [dir, fromArg, toArg, stepsArg] = process.argv.slice(2);
if (!dir) throw new Error("usage: cpuprofile-top.ts DIR [fromUs toUs] [steps]");
const from = fromArg ? Number(fromArg) : -Infinity;
const to = toArg ? Number(toArg) : Infinity;
const steps = stepsArg ? Number(stepsArg) : NaN;

const where = (url: string): string => {
  if (!url) return "";
  const u = url.replace(/^file:\/\//, "");
  const nm = u.lastIndexOf("node_modules/");
  if (nm >= 0) return u.slice(nm + "node_modules/".length);
  const src = u.search(/\/(src|test)\//);
  return src >= 0 ? u.slice(src + 1) : u;
};

const selfUs = new Map<string, number>();
let total = 0;
for (const f of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
  const p = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    const dt = p.timeDeltas[i + 1] ?? 0; // a sample stands for the time until the next one
    if (t < from || t > to) continue;
    const cf = byId.get(p.samples[i]!)!.callFrame;
    const key = `${cf.functionName || "(anonymous)"} ${where(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ""}`.trim();
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    total += dt;
  }
}
const idle = selfUs.get("(idle)") ?? 0;
const busy = total - idle;
process.stdout.write(`${(total / 1e3).toFixed(0)} ms sampled, ${((100 * idle) / total).toFixed(0)}% idle; busy ${(busy / 1e3).toFixed(0)} ms${Number.isFinite(steps) ? ` = ${(busy / steps).toFixed(0)} µs a step` : ""}\n`);
process.stdout.write("| % of busy | ms | function |\n|--:|--:|---|\n");
for (const [k, us] of [...selfUs].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 25)))
  process.stdout.write(`| ${((100 * us) / busy).toFixed(1)} | ${(us / 1e3).toFixed(1)} | \`${k}\` |\n`);
