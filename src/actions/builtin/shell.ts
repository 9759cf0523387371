/**
 * Runs an allow-listed executable with an argv array. There is never a shell in
 * between: parameters arrive as separate argv entries or environment variables,
 * so `; rm -rf /` is just a string the program receives.
 */
import { spawn } from "node:child_process";
import { DURATION_PATTERN, parseDuration } from "../../formats/duration.js";
import { configOf, redactorOf } from "../context.js";
import { Redactor } from "../secrets.js";
import { ActionError, type Action, type StepContext } from "../types.js";
import { whenAborted } from "../../engine/timers.js";

export interface ShellInput {
  /** Name of an entry in the server configuration's `shell.allow`. */
  command: string;
  args?: string[];
  /** Step parameters for the program, as environment variables. */
  env?: Record<string, string>;
  /** Environment variables filled from named secrets. */
  secretEnv?: Record<string, string>;
  stdin?: string;
  /** Kill the process group after this long (default 5m). */
  timeout?: string;
  /** Exit codes that count as success (default [0]). */
  allowExitCodes?: number[];
}

export interface ShellOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** Bytes of each stream kept; the rest is counted and dropped so a chatty tool cannot fill memory. */
export const MAX_CAPTURE_BYTES = 64 * 1024;
const KILL_GRACE_MS = 2000;
const NO_NUL = "^[^\\u0000]*$";
const ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$";

/**
 * Variables that change how a program or its loader behaves rather than passing data.
 * A request must not set them; the server configuration may.
 */
const RESERVED_ENV = /^(PATH|IFS|ENV|BASH_ENV|SHELLOPTS|BASHOPTS|PS4|NODE_OPTIONS|PYTHONSTARTUP|PYTHONPATH|PYTHONHOME|PERL5OPT|PERL5LIB|RUBYOPT|LD_.*|DYLD_.*|GCONV_PATH|HOSTALIASES|KUBECONFIG)$/;

const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

export const shell: Action<ShellInput, ShellOutput> = {
  name: "shell",
  description: "Runs an allow-listed executable with an argv array (no shell). Parameters arrive as argv or environment variables.",
  input: {
    type: "object",
    additionalProperties: false,
    required: ["command"],
    properties: {
      command: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$" },
      args: { type: "array", maxItems: 1000, items: { type: "string", maxLength: 100_000, pattern: NO_NUL } },
      env: {
        type: "object",
        propertyNames: { pattern: ENV_NAME },
        additionalProperties: { type: "string", maxLength: 100_000, pattern: NO_NUL },
      },
      secretEnv: { type: "object", propertyNames: { pattern: ENV_NAME }, additionalProperties: { type: "string", minLength: 1 } },
      stdin: { type: "string", maxLength: 1_000_000 },
      timeout: { type: "string", pattern: DURATION_PATTERN },
      allowExitCodes: { type: "array", items: { type: "integer", minimum: 0, maximum: 255 } },
    },
  },
  output: {
    type: "object",
    required: ["exitCode", "stdout", "stderr", "truncated"],
    properties: {
      exitCode: { type: "integer" },
      stdout: { type: "string" },
      stderr: { type: "string" },
      truncated: { type: "boolean" },
    },
  },
  errorCodes: ["exit-code", "not-allowed", "invalid-input", "spawn-failed"],
  run: runShell,
};

function checkInert(label: string, value: string): void {
  // execve cannot carry a NUL byte; refusing it here gives a clear error instead of a crash.
  if (value.includes("\0")) throw new ActionError("invalid-input", `${label} contains a NUL byte`);
}

async function runShell(input: ShellInput, ctx: StepContext): Promise<ShellOutput> {
  const config = configOf(ctx);
  const entry = Object.hasOwn(config.shell.allow, input.command) ? config.shell.allow[input.command] : undefined;
  if (!entry) throw new ActionError("not-allowed", `"${input.command}" is not in the server's shell allow-list`);
  const args = input.args ?? [];
  args.forEach((a, i) => checkInert(`args[${i}]`, a));

  const local = new Redactor();
  const env: Record<string, string> = { PATH: DEFAULT_PATH, LANG: "C.UTF-8", ...(entry.env ?? {}) };
  for (const [k, v] of Object.entries(input.env ?? {})) {
    if (RESERVED_ENV.test(k)) throw new ActionError("invalid-input", `environment variable ${k} may only be set by the server configuration`);
    checkInert(`env.${k}`, v);
    env[k] = v;
  }
  for (const [k, name] of Object.entries(input.secretEnv ?? {})) {
    if (RESERVED_ENV.test(k)) throw new ActionError("invalid-input", `environment variable ${k} may only be set by the server configuration`);
    const value = await ctx.secret(name);
    local.add(value);
    env[k] = value;
  }
  const scrub = (text: string): string => local.redact(redactorOf(ctx)?.redact(text) ?? text);
  const timeoutMs = parseDuration(input.timeout ?? "5m");
  if (ctx.signal.aborted) throw new ActionError("timeout", "aborted before start");

  return new Promise<ShellOutput>((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      // detached: the child leads a new process group, so a timeout can kill everything it started.
      child = spawn(entry.path, args, { env, detached: true, stdio: ["pipe", "pipe", "pipe"], shell: false, cwd: "/" });
    } catch (e) {
      reject(new ActionError("spawn-failed", `cannot start ${input.command}: ${(e as Error).message}`));
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    const collect = (sink: Buffer[], size: () => number, add: (n: number) => void) => (chunk: Buffer) => {
      const room = MAX_CAPTURE_BYTES - size();
      if (room <= 0) {
        truncated = true;
        return;
      }
      if (chunk.length > room) truncated = true;
      const part = chunk.subarray(0, room);
      sink.push(part);
      add(part.length);
    };
    child.stdout!.on("data", collect(out, () => outBytes, (n) => (outBytes += n)));
    child.stderr!.on("data", collect(err, () => errBytes, (n) => (errBytes += n)));
    child.stdin!.on("error", () => undefined); // a program that ignores stdin closes it early: EPIPE is fine
    child.stdin!.end(input.stdin ?? "");

    let killedFor: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const stop = (reason: string): void => {
      if (killedFor) return;
      killedFor = reason;
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => stop(`timed out after ${input.timeout ?? "5m"}`), timeoutMs);
    const onAbort = (): void => stop(`aborted: ${String(ctx.signal.reason ?? "cancelled")}`);
    // A step aborted before its program started still stops it at once.
    whenAborted(ctx.signal, onAbort);

    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    child.on("exit", (code, sig) => {
      exitCode = code;
      exitSignal = sig;
      // Anything the program left running in its group (port-forwards, watchers) goes with it.
      killGroup("SIGKILL");
    });
    child.on("error", (e) => {
      cleanup();
      reject(new ActionError("spawn-failed", `cannot start ${input.command}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    const cleanup = (): void => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      ctx.signal.removeEventListener("abort", onAbort);
    };
    child.on("close", () => {
      cleanup();
      const result: ShellOutput = {
        exitCode: exitCode ?? -1,
        stdout: scrub(Buffer.concat(out).toString("utf8")),
        stderr: scrub(Buffer.concat(err).toString("utf8")),
        truncated,
      };
      if (killedFor) {
        reject(new ActionError("timeout", `${input.command} ${killedFor}; process group killed`));
        return;
      }
      const allowed = input.allowExitCodes ?? [0];
      if (exitSignal || !allowed.includes(result.exitCode)) {
        const tail = result.stderr.slice(-2000).trim();
        reject(new ActionError("exit-code", `${input.command} ${exitSignal ? `was killed by ${exitSignal}` : `exited with ${result.exitCode}`}${tail ? `: ${tail}` : ""}`));
        return;
      }
      if (result.stderr) ctx.log.info(`${input.command} stderr`, { stderr: result.stderr.slice(-4000) });
      resolve(result);
    });
  });
}
