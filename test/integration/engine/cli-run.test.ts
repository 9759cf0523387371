import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import type { CliIO } from "../../../src/cli/command.js";
import { FIXTURES } from "./harness.js";
import { openStore } from "../../../src/store/db.js";
import { listAuditEvents, verifyAuditChain } from "../../../src/store/audit.js";

const REPO = join(FIXTURES, "cli-repo");

function io(dataDir: string, signal?: AbortSignal, tty = false): CliIO & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (c: string) => (out += c), isTTY: tty, ...(tty ? { columns: 100 } : {}) },
    stderr: { write: (c: string) => (err += c) },
    cwd: REPO,
    env: { CLUTCH_LUIGI_DATA_DIR: dataDir, USER: "tester" },
    ...(signal ? { signal } : {}),
    out: () => out,
    err: () => err,
  };
}

describe("clutch-luigi run (embedded database)", () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), "cl-run-"));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it("runs a request to success, one line per state change", async () => {
    const t = io(dataDir);
    expect(await main(["run", "requests/hello.yaml"], t)).toBe(0);
    const lines = t.out().trim().split("\n").map((l) => l.replace(/^\S+ /, ""));
    expect(lines[0]).toBe("run started");
    expect(lines).toContain("greet succeeded");
    expect(lines.indexOf("greet succeeded")).toBeLessThan(lines.indexOf("echo running (attempt 1)"));
    expect(lines.at(-1)).toBe("run succeeded");
    expect(t.err()).toMatch(/run [0-9a-f-]{36} succeeded/);
  });

  it("exits 1 when the run fails, showing the retry", async () => {
    const t = io(dataDir);
    expect(await main(["run", "requests/doomed.yaml"], t)).toBe(1);
    expect(t.out()).toMatch(/second retrying \(connection, next try in \d+ms\)/);
    expect(t.out()).toMatch(/run failed/);
    expect(t.err()).toMatch(/failed: step second failed \(connection\): database unreachable/);
  });

  it("prints problems as file:line:col and runs nothing for an invalid request", async () => {
    const t = io(dataDir);
    expect(await main(["run", "requests/invalid.yaml"], t)).toBe(1);
    expect(t.out()).toMatch(/requests\/invalid\.yaml:5:\d+: /);
  });

  it("resumes an interrupted run without repeating finished steps", async () => {
    const ctl = new AbortController();
    const first = io(dataDir, ctl.signal);
    const running = main(["run", "requests/slow.yaml"], first);
    for (let i = 0; i < 200 && !first.out().includes("nap running"); i++) await new Promise((r) => setTimeout(r, 20));
    ctl.abort();
    expect(await running).toBe(1);
    const runId = first.err().match(/run ([0-9a-f-]{36}) started/)![1]!;
    expect(first.err()).toContain(`clutch-luigi run --resume ${runId}`);
    const second = io(dataDir);
    expect(await main(["run", "--resume", runId], second)).toBe(0);
    const store = await openStore({ dataDir });
    try {
      const kinds = (await listAuditEvents(store.db, { runId })).map((e) => `${e.kind}:${e.step_id ?? ""}`);
      expect(kinds.filter((k) => k === "step.succeeded:first")).toHaveLength(1);
      expect(kinds).toContain("step.interrupted:nap");
      expect(kinds.filter((k) => k === "step.succeeded:nap")).toHaveLength(1);
      expect((await verifyAuditChain(store.db)).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  it("rejects bad usage with exit 2 and an unknown run with exit 1", async () => {
    expect(await main(["run"], io(dataDir))).toBe(2);
    expect(await main(["run", "--resume", "nope"], io(dataDir))).toBe(2);
    expect(await main(["run", "--concurrency", "0", "requests/hello.yaml"], io(dataDir))).toBe(2);
    const t = io(dataDir);
    expect(await main(["run", "--resume", "00000000-0000-0000-0000-000000000000"], t)).toBe(1);
    expect(t.err()).toMatch(/no run 00000000/);
  });

  it("migrate reports what it applied, then that it is up to date", async () => {
    const a = io(dataDir);
    expect(await main(["migrate"], a)).toBe(0);
    expect(a.out()).toBe("embedded database: applied 001_initial\nembedded database: applied 002_hot_path\nembedded database: applied 003_deliveries\nembedded database: applied 006_dispatches\n");
    const b = io(dataDir);
    expect(await main(["migrate"], b)).toBe(0);
    expect(b.out()).toBe("embedded database: up to date\n");
    const c = io(dataDir);
    expect(await main(["migrate", "--status"], c)).toBe(0);
    expect(c.out()).toBe("applied  001_initial\napplied  002_hot_path\napplied  003_deliveries\napplied  006_dispatches\n");
  });

  it("redraws a step table in place on a terminal", async () => {
    const t = io(dataDir, undefined, true);
    expect(await main(["run", "requests/hello.yaml"], t)).toBe(0);
    const out = t.out();
    // later frames move the cursor back up over the previous one and clear each line
    expect(out).toMatch(/\x1b\[\d+F/);
    expect(out).toContain("\x1b[2K");
    const frames = out.split(/\x1b\[\d+F/);
    expect(frames.length).toBeGreaterThan(1);
    const last = frames.at(-1)!;
    for (const step of ["greet", "pause", "echo", "done"]) expect(last).toMatch(new RegExp(`${step}\\s+.*succeeded`));
  });

  it("finds the workflow with --workflows for a request outside the repository", async () => {
    const request = join(FIXTURES, "elsewhere", "hello.yaml");
    const without = io(dataDir);
    expect(await main(["run", request], without)).toBe(1);
    // found by walking up from the request: the project's own catalog, which has no "hello"
    expect(without.out()).toMatch(/elsewhere\/hello\.yaml:4:\d+: unknown workflow "hello" \(known: /);
    const t = io(dataDir);
    expect(await main(["run", request, "--workflows", join(REPO, "workflows")], t)).toBe(0);
    expect(t.out()).toContain("greet succeeded");
  });
});
