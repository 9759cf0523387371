import { execFileSync } from "node:child_process";
import { basename, dirname, relative, resolve } from "node:path";
import { defaultRegistry } from "../../actions/index.js";
import type { StepLogEntry } from "../../actions/context.js";
import { createStepRuntime } from "../../runtime/step-runtime.js";
import { eventLine, printable, renderTable } from "../progress.js";
import { listAuditEvents } from "../../store/audit.js";
import { isFinalRunState } from "../../engine/states.js";
import { loadRequestForRun } from "../../formats/validate-files.js";
import { formatProblem } from "../../formats/problems.js";
import { openStore, storeOptionsFromEnv, type Store } from "../../store/db.js";
import { PgWorkQueue } from "../../store/queue.js";
import { createRun, getRun, type RunStatus } from "../../store/runs.js";
import { runWorker } from "../../store/workers.js";
import { parseCli, requireFile } from "../args.js";
import { UsageError, type CliIO, type Command } from "../command.js";
import { positiveInt } from "./worker.js";
import { whenAborted } from "../../engine/timers.js";

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Who and where, for a run started from a laptop rather than a merged PR. */
function localIdentity(requestFile: string, env: NodeJS.ProcessEnv) {
  const dir = dirname(requestFile);
  const remote = git(dir, ["config", "--get", "remote.origin.url"]);
  const slug = remote?.match(/[:/]([^/:]+\/[^/]+?)(?:\.git)?$/)?.[1];
  const top = git(dir, ["rev-parse", "--show-toplevel"]);
  const commit = git(dir, ["rev-parse", "HEAD"]);
  const login = env.GITHUB_ACTOR ?? env.USER ?? env.USERNAME ?? "local";
  return {
    repository: slug ?? `local/${basename(top ?? dir)}`,
    ...(commit ? { commit } : {}),
    requester: { login, type: "User" },
    approvers: [],
    requestPath: top ? relative(top, requestFile) : requestFile,
  };
}

/**
 * On a terminal, the step table redrawn in place; otherwise one line per state
 * change, read from the run's audit rows so that no transition is missed between
 * two looks.
 */
class Progress {
  private drawn = 0;
  private afterSeq = 0;
  constructor(
    private readonly io: CliIO,
    private readonly store: Store,
    private readonly started: number,
    /** Called after each printed event, so step logs can follow the step's own lines. */
    private readonly afterEvent: (stepId: string | null, kind: string, at: string) => void = () => undefined,
  ) {}

  async show(run: RunStatus): Promise<void> {
    if (this.io.stdout.isTTY) {
      const lines = renderTable(run, Date.now() - this.started, this.io.stdout.columns || 100);
      const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : "";
      this.io.stdout.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(""));
      this.drawn = lines.length;
      return;
    }
    for (;;) {
      const events = await listAuditEvents(this.store.db, { runId: run.runId, afterSeq: this.afterSeq, limit: 500 });
      for (const e of events) {
        const line = eventLine(e);
        if (line) this.io.stdout.write(line + "\n");
        this.afterEvent(e.step_id, e.kind, new Date(e.at).toISOString());
        this.afterSeq = e.seq;
      }
      if (events.length < 500) return;
    }
  }
}

async function watch(store: Store, runId: string, io: CliIO, concurrency: number): Promise<RunStatus | null> {
  const stop = new AbortController();
  const outer = io.signal;
  const unsubscribe = outer ? whenAborted(outer, () => stop.abort()) : () => undefined;
  const errors: string[] = [];
  if (store.backend === "pglite") {
    // Only this process can have the embedded database open, so every lease in it
    // belongs to a process that is gone: hand those steps back now, not in 30s.
    await new PgWorkQueue(store).reclaimExpired(true);
  }
  // Step logs (already redacted by the context) are held back until the step's own
  // progress line has been printed — progress is read from audit rows a moment later
  // than the logs arrive — and on a terminal until the table is done.
  let held: StepLogEntry[] = [];
  const showLog = (e: StepLogEntry): string => `${e.at.slice(11, 23)} ${e.stepId} ${e.level}: ${printable(e.message, true)}\n`;
  /** Print held logs (of one step, written up to `until`), oldest first. */
  const flush = (stepId?: string, until?: string): void => {
    const due = (e: StepLogEntry): boolean => stepId === undefined || (e.stepId === stepId && (until === undefined || e.at <= until));
    for (const e of held) if (due(e)) io.stdout.write(showLog(e));
    held = held.filter((e) => !due(e));
  };
  const STEP_SETTLED = /^step\.(succeeded|skipped|failed|retrying|rolled_back|rollback_failed|cancelled|interrupted|waiting)$/;
  const runtime = await createStepRuntime({ env: io.env, store, sink: (e) => void held.push(e) });
  const worker = runWorker(store, {
    registry: runtime.registry,
    contextFactory: runtime.contextFactory,
    concurrency,
    signal: stop.signal,
    onError: (e) => errors.push(e instanceof Error ? e.message : String(e)),
  });
  const progress = new Progress(io, store, Date.now(), (stepId, kind, at) => {
    if (stepId && !io.stdout.isTTY && STEP_SETTLED.test(kind)) flush(stepId, at);
  });
  let last: RunStatus | null = null;
  try {
    while (!stop.signal.aborted) {
      last = await getRun(store, runId);
      if (!last) break;
      await progress.show(last);
      if (isFinalRunState(last.state)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    stop.abort();
    await worker;
    unsubscribe();
  }
  flush();
  for (const e of [...new Set(errors)].slice(0, 5)) io.stderr.write(`worker: ${printable(e)}\n`);
  return last;
}

export const command: Command = {
  name: "run",
  summary: "run a request's workflow locally with live progress",
  usage: `Usage: clutch-luigi run REQUEST [--workflows DIR] [--concurrency N]
       clutch-luigi run --resume RUN_ID

Validates REQUEST, finds its workflow (the workflows/ folder of the repository
the request sits in, or DIR) and runs it in this process with a worker: a step
table redrawn in place on a terminal, one line per state change otherwise.
Uses DATABASE_URL when set, else the embedded database under
CLUTCH_LUIGI_DATA_DIR (default .clutch-luigi/). --resume continues an
interrupted run. Exit status: 0 only if the run succeeded.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, {
      workflows: { type: "string" },
      resume: { type: "string" },
      concurrency: { type: "string", short: "c" },
    });
    const concurrency = positiveInt(values.concurrency, "--concurrency", 4);
    if (values.resume && positionals.length > 0) throw new UsageError("give either REQUEST or --resume RUN_ID, not both");
    if (!values.resume && positionals.length !== 1) throw new UsageError("name exactly one request file");
    if (values.resume && !/^[0-9a-f-]{36}$/i.test(values.resume)) throw new UsageError(`--resume takes a run id, got "${values.resume}"`);

    let runId = values.resume;
    let create: ((store: Store) => Promise<string>) | undefined;
    if (!runId) {
      const registry = defaultRegistry();
      const file = requireFile(io.cwd, positionals[0]!);
      const loaded = await loadRequestForRun(file, { registry, cwd: io.cwd, ...(values.workflows ? { workflowsDir: resolve(io.cwd, values.workflows) } : {}) });
      if (loaded.problems.length > 0) {
        for (const p of loaded.problems) io.stdout.write(`${formatProblem(p)}\n`);
        return 1;
      }
      const { requestPath, ...identity } = localIdentity(file, io.env);
      create = async (store) => (await createRun(store, { ...identity, requestPath, request: loaded.request, workflow: loaded.workflow, registry })).runId;
    }
    const store = await openStore(storeOptionsFromEnv(io.env, io.cwd));
    try {
      if (create) runId = await create(store);
      else if (!(await getRun(store, runId!))) {
        io.stderr.write(`clutch-luigi run: no run ${runId} in ${store.backend === "pg" ? "DATABASE_URL" : "the embedded database"}\n`);
        return 1;
      }
      if (create) io.stderr.write(`run ${runId} started (resume with: clutch-luigi run --resume ${runId})\n`);
      const final = await watch(store, runId!, io, concurrency);
      if (!final) return 1;
      if (!isFinalRunState(final.state)) {
        io.stderr.write(`run ${runId} interrupted while ${final.state}; continue with: clutch-luigi run --resume ${runId}\n`);
        return 1;
      }
      io.stderr.write(`run ${runId} ${final.state}${final.error ? `: ${printable(final.error)}` : ""}\n`);
      return final.state === "succeeded" ? 0 : 1;
    } finally {
      await store.close();
    }
  },
};
