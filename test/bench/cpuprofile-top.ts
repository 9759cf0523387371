/**
 * Top self-time functions over V8 CPU profiles (`node --cpu-prof`), e.g. the bench's
 * engine workers run with BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR":
 *
 *   tsx test/bench/cpuprofile-top.ts DIR [BENCH_LOG] [steps]
 *
 * BENCH_LOG is the bench's stderr with BENCH_VERBOSE=1: its `window` lines (CLOCK_MONOTONIC
 * µs) keep only the samples taken while the work ran, leaving out start-up and shutdown.
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

const [dir, log, stepsArg] = process.argv.slice(2);
if (!dir) throw new Error("usage: cpuprofile-top.ts DIR [BENCH_LOG] [steps]");
const windows: Array<[number, number]> = log
  ? readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("window "))
      .map((l) => [Number(l.split(" ")[2]), Number(l.split(" ")[3])] as [number, number])
  : [[-Infinity, Infinity]];
const steps = stepsArg ? Number(stepsArg) : NaN;
const inWindow = (t: number): boolean => windows.some(([a, b]) => t >= a && t <= b);

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
const area = (cf: Node["callFrame"]): string => {
  if (!cf.url) return cf.functionName.startsWith("(") ? cf.functionName : "native";
  const w = where(cf.url);
  if (w.startsWith("src/")) return w.split("/").slice(0, 2).join("/");
  if (cf.url.startsWith("node:")) return "node internals";
  return w.split("/")[0]!.startsWith("@") ? w.split("/").slice(0, 2).join("/") : w.split("/")[0]!;
};
const areaUs = new Map<string, number>();
// thread 0 only (CPU.<date>.<time>.<pid>.<thread>.<seq>): tsx's module-hooks thread is idle
for (const f of readdirSync(dir).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))) {
  const p = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    const dt = p.timeDeltas[i + 1] ?? 0; // a sample stands for the time until the next one
    if (!inWindow(t)) continue;
    const cf = byId.get(p.samples[i]!)!.callFrame;
    // tsx compiles each source file to one line, so a line number there says nothing
    const line = cf.url && !where(cf.url).startsWith("src/") ? `:${cf.lineNumber + 1}` : "";
    const key = `${cf.functionName || "(anonymous)"} ${where(cf.url)}${line}`.trim();
    areaUs.set(area(cf), (areaUs.get(area(cf)) ?? 0) + dt);
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    total += dt;
  }
}
const idle = selfUs.get("(idle)") ?? 0;
const busy = total - idle;
process.stdout.write(`${(total / 1e3).toFixed(0)} ms sampled, ${((100 * idle) / total).toFixed(0)}% idle; busy ${(busy / 1e3).toFixed(0)} ms${Number.isFinite(steps) ? ` = ${(busy / steps).toFixed(0)} µs a step` : ""}\n`);
process.stdout.write("| % of busy | area |\n|--:|---|\n");
for (const [k, us] of [...areaUs].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, 12)) process.stdout.write(`| ${((100 * us) / busy).toFixed(1)} | ${k} |\n`);
process.stdout.write("\n| % of busy | ms | function |\n|--:|--:|---|\n");
for (const [k, us] of [...selfUs].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 25)))
  process.stdout.write(`| ${((100 * us) / busy).toFixed(1)} | ${(us / 1e3).toFixed(1)} | \`${k}\` |\n`);
