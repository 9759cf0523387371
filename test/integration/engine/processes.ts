/** Spawning and stopping fault-test worker processes. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";

const SCRIPT = new URL("./fault-worker.ts", import.meta.url).pathname;

export interface WorkerProcess {
  pid: number;
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

export async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolve();
    });
    void exited.then((code) => reject(new Error(`worker exited ${code} before ready: ${err}`)));
  });
  return { pid: child.pid!, child, stderr: () => err, exited };
}

export async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
  await Promise.all(workers.map((w) => Promise.race([w.exited, new Promise((r) => setTimeout(r, 10_000))])));
}

export interface CountLine {
  e: "start" | "done" | "failed" | "rollback";
  run: string;
  step: string;
  key: string;
  attempt: number;
  pid: number;
  t: number;
}

export function readCounts(file: string): CountLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as CountLine);
}
