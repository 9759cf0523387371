import { parseDuration } from "../../formats/duration.js";
import { openStore, storeOptionsFromEnv } from "../../store/db.js";
import { defaultWorkerId } from "../../store/queue.js";
import { runWorker } from "../../store/workers.js";
import { RunReporter, reporterSettings } from "../../github/run-report/reporter.js";
import { createStepRuntime } from "../../runtime/step-runtime.js";
import { parseCli } from "../args.js";
import { UsageError, type Command } from "../command.js";

export function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} takes a whole number ≥ 1, got "${text}"`);
  return Number(text);
}

function duration(text: string | undefined, flag: string, min: number, max: number, range: string): number | undefined {
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
  if (ms < min || ms > max) throw new UsageError(`${flag} takes a duration from ${range}, got "${text}"`);
  return ms;
}

export const command: Command = {
  name: "worker",
  summary: "run an engine worker; start as many as you like on any machines",
  usage: `Usage: clutch-luigi worker [--concurrency N] [--lease 30s] [--poll 1s]

Claims ready steps from the database (DATABASE_URL) and runs them, up to N at
once (default 4). Workers coordinate only through Postgres: start any number on
any machines. A worker that dies loses its lease after --lease and another one
resumes its steps. Stops cleanly on SIGINT/SIGTERM, handing running steps back.
GitHub steps act as the app (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, GHE_HOST)
on the run's installation, unless github.tokenSecret overrides it; with those
credentials it also keeps each run's check and outcome comment on GitHub current.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, {
      concurrency: { type: "string", short: "c" },
      lease: { type: "string" },
      poll: { type: "string" },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const concurrency = positiveInt(values.concurrency, "--concurrency", 4);
    // A lease is renewed every third of itself: too short floods the database, too long
    // leaves a dead worker's step stranded. Timers beyond ~24 days would misfire anyway.
    const leaseMs = duration(values.lease, "--lease", 1_000, 86_400_000, "1s to 24h");
    const pollMs = duration(values.poll, "--poll", 10, 3_600_000, "10ms to 1h");
    const store = await openStore(storeOptionsFromEnv(io.env, io.cwd));
    const workerId = defaultWorkerId();
    const signal = io.signal ?? new AbortController().signal;
    let lastError = "";
    io.stderr.write(`worker ${workerId}: ${store.backend === "pg" ? "postgres" : "embedded database"}, concurrency ${concurrency}\n`);
    try {
      // With APP_ID and the app's key in its environment, the worker acts as the app.
      const runtime = await createStepRuntime({ env: io.env, store });
      io.stderr.write(`worker ${workerId}: GitHub steps use ${runtime.githubAuth}\n`);
      const say = (err: unknown): void => {
        // Say it once per distinct problem: a database outage must not flood the log.
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== lastError) io.stderr.write(`worker ${workerId}: ${msg}\n`);
        lastError = msg;
      };
      // With the app's identity it also keeps runs' checks and comments on GitHub current.
      const githubApp = runtime.githubApp;
      const reports = githubApp ? new RunReporter({ db: store.db, clientFor: (runId, repository) => githubApp.clientFor(runId, repository), ...reporterSettings(io.env), onError: say }).run(signal) : Promise.resolve();
      await runWorker(store, {
        registry: runtime.registry,
        contextFactory: runtime.contextFactory,
        concurrency,
        workerId,
        signal,
        ...(leaseMs ? { leaseMs } : {}),
        ...(pollMs ? { pollMs } : {}),
        onError: say,
      });
      await reports;
    } finally {
      await store.close();
    }
    io.stderr.write(`worker ${workerId}: stopped\n`);
    return 0;
  },
};
