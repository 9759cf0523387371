import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_CAPTURE_BYTES, shell } from "../../../src/actions/builtin/shell.js";
import { compileSchema } from "../../../src/formats/schema-check.js";
import { failure, HOSTILE_VALUES, testContext } from "./context-helper.js";

const fixtures = join(import.meta.dirname, "../../fixtures/actions");
const config = `
secrets:
  api-token: { env: API_TOKEN }
shell:
  allow:
    print-args: { path: ${fixtures}/print-args.sh }
    spawn-tree: { path: ${fixtures}/spawn-tree.sh }
    fail-loudly: { path: ${fixtures}/fail-loudly.sh }
    chatty: { path: ${fixtures}/chatty.sh }
    print-env: { path: ${fixtures}/print-env.sh, env: { FIXED: from-config } }
    ignore-term: { path: ${fixtures}/ignore-term.sh }
    leave-child: { path: ${fixtures}/leave-child.sh }
    missing: { path: /nonexistent/clutch-luigi-tool }
`;
const ctxFor = (env: Record<string, string> = {}) => testContext({ config, env: { API_TOKEN: "tok-5ecret-value", ...env } });

/** Running, as opposed to gone or a zombie (killed, waiting for a reaper this container may not have). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe("shell", () => {
  it("passes hostile argv and env values through as inert data", async () => {
    const { ctx } = await ctxFor();
    const canary = join(await mkdtemp(join(tmpdir(), "cl-canary-")), "pwned");
    const args = [...HOSTILE_VALUES, `$(touch ${canary})`, `; touch ${canary}`];
    const out = await shell.run({ command: "print-args", args, env: { PARAM: `' OR 1=1 -- $(touch ${canary})` } }, ctx);
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toBe(`${args.map((a) => `[${a}]`).join("\n")}\nPARAM=[' OR 1=1 -- $(touch ${canary})]\n`);
    expect(existsSync(canary)).toBe(false);
  });

  it("refuses NUL bytes with a clear error (execve cannot carry them)", async () => {
    const { ctx } = await ctxFor();
    await expect(shell.run({ command: "print-args", args: ["a\0b"] }, ctx)).rejects.toMatchObject({ code: "invalid-input", message: "args[0] contains a NUL byte" });
    await expect(shell.run({ command: "print-args", env: { PARAM: "x\0y" } }, ctx)).rejects.toMatchObject({ code: "invalid-input" });
    expect(compileSchema(shell.input)({ command: "print-args", args: ["a\0b"] })).toBe(false);
  });

  it("runs only allow-listed names", async () => {
    const { ctx } = await ctxFor();
    await expect(shell.run({ command: "sh", args: ["-c", "id"] }, ctx)).rejects.toMatchObject({ code: "not-allowed" });
    await expect(shell.run({ command: "constructor" }, ctx)).rejects.toMatchObject({ code: "not-allowed" });
    await expect(shell.run({ command: "missing" }, ctx)).rejects.toMatchObject({ code: "spawn-failed" });
  });

  it("gives the program a clean environment: no server variables, config env, step env, secrets", async () => {
    process.env.CL_TEST_SERVER_ONLY = "server-secret-env";
    try {
      const { ctx } = await ctxFor();
      const out = await shell.run({ command: "print-env", env: { STEP_PARAM: "v1" }, secretEnv: { TOKEN: "api-token" } }, ctx);
      const lines = out.stdout.trim().split("\n");
      expect(lines).toContain("FIXED=from-config");
      expect(lines).toContain("STEP_PARAM=v1");
      expect(lines).toContain("TOKEN=[REDACTED]");
      expect(out.stdout).not.toContain("server-secret-env");
      expect(out.stdout).not.toContain("tok-5ecret-value");
    } finally {
      delete process.env.CL_TEST_SERVER_ONLY;
    }
  });

  it("refuses variables that change how programs load (LD_PRELOAD, PATH, …)", async () => {
    const { ctx } = await ctxFor();
    for (const name of ["LD_PRELOAD", "PATH", "BASH_ENV", "NODE_OPTIONS"]) {
      await expect(shell.run({ command: "print-env", env: { [name]: "/tmp/x" } }, ctx)).rejects.toMatchObject({ code: "invalid-input" });
    }
  });

  it("redacts secrets in captured output, in the error and in logs", async () => {
    const { ctx, logs } = await ctxFor();
    const err = await failure(shell.run({ command: "fail-loudly", secretEnv: { TOKEN: "api-token" } }, ctx));
    expect(err.code).toBe("exit-code");
    expect(err.message).toBe("fail-loudly exited with 3: stderr has [REDACTED]");
    const ok = await shell.run({ command: "fail-loudly", secretEnv: { TOKEN: "api-token" }, env: { CODE: "0" } }, ctx);
    expect(ok.stdout).toBe("stdout has [REDACTED]\n");
    expect(JSON.stringify(logs)).not.toContain("tok-5ecret-value");
    expect(JSON.stringify(logs)).toContain("stderr has [REDACTED]");
  });

  it("accepts listed exit codes", async () => {
    const { ctx } = await ctxFor();
    const out = await shell.run({ command: "fail-loudly", env: { CODE: "4", TOKEN: "x" }, allowExitCodes: [0, 4] }, ctx);
    expect(out.exitCode).toBe(4);
  });

  it("bounds captured output", async () => {
    const { ctx } = await ctxFor();
    const out = await shell.run({ command: "chatty" }, ctx);
    expect(out.stdout.length).toBe(MAX_CAPTURE_BYTES);
    expect(out.truncated).toBe(true);
  });

  it("kills the whole process group on timeout", async () => {
    const { ctx } = await ctxFor();
    const pidfile = join(await mkdtemp(join(tmpdir(), "cl-pids-")), "pids");
    const started = Date.now();
    const err = await failure(shell.run({ command: "spawn-tree", env: { PIDFILE: pidfile }, timeout: "700ms" }, ctx));
    expect(err.code).toBe("timeout");
    expect(err.message).toMatch(/timed out after 700ms; process group killed/);
    expect(Date.now() - started).toBeLessThan(10_000);
    const pids = (await readFile(pidfile, "utf8")).trim().split(" ").map(Number);
    expect(pids).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 100));
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  });

  it("escalates to SIGKILL for a group that ignores SIGTERM", async () => {
    const { ctx } = await ctxFor();
    const pidfile = join(await mkdtemp(join(tmpdir(), "cl-pids-")), "pids");
    const err = await failure(shell.run({ command: "ignore-term", env: { PIDFILE: pidfile }, timeout: "300ms" }, ctx));
    expect(err.code).toBe("timeout");
    const pids = (await readFile(pidfile, "utf8")).trim().split(" ").map(Number);
    expect(pids).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 100));
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  });

  it("kills what a program leaves running in its group when it exits", async () => {
    const { ctx } = await ctxFor();
    const pidfile = join(await mkdtemp(join(tmpdir(), "cl-pids-")), "pids");
    const started = Date.now();
    const out = await shell.run({ command: "leave-child", env: { PIDFILE: pidfile }, timeout: "60s" }, ctx);
    expect(out).toMatchObject({ exitCode: 0, stdout: "done\n" });
    // Returned on the program's exit, not when the orphan would have closed stdout (300 s).
    expect(Date.now() - started).toBeLessThan(30_000);
    const orphan = Number((await readFile(pidfile, "utf8")).trim());
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(orphan), `orphan ${orphan}`).toBe(false);
  });

  it("kills the process group when the step is aborted", async () => {
    const { ctx, abort } = await ctxFor();
    const pidfile = join(await mkdtemp(join(tmpdir(), "cl-pids-")), "pids");
    const running = failure(shell.run({ command: "spawn-tree", env: { PIDFILE: pidfile } }, ctx));
    for (let i = 0; i < 100 && !existsSync(pidfile); i++) await new Promise((r) => setTimeout(r, 20));
    abort.abort(new Error("run cancelled"));
    expect((await running).code).toBe("timeout");
    const pids = (await readFile(pidfile, "utf8")).trim().split(" ").map(Number);
    await new Promise((r) => setTimeout(r, 100));
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });
});
