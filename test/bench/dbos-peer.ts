/**
 * One DBOS Transact worker process for `npm run bench:engine`: the second peer.
 *
 * Two workflows, both dequeued from one database-backed queue whose per-process limit is
 * CONCURRENCY (the same steps in flight per process as our workers and graphile's):
 *   benchOne    one no-op step: a "run of N independent steps" is N of these
 *   benchChain  five no-op steps in sequence: DBOS's idiom for a 5-step chain
 * DBOS has no notification for new queue entries: each process polls its queue every
 * DBOS_POLL_MS (DBOS's default is 1,000 ms, which would cap a process at 8 workflows a second).
 */
import { DBOS, type DLogger } from "@dbos-inc/dbos-sdk";
import { APP, APP_VERSION, CHAIN, ONE, QUEUE } from "./dbos-names.js";

const noop = DBOS.registerStep(async (): Promise<void> => undefined, { name: "noop" });

async function one(): Promise<void> {
  await noop();
}
async function chain(): Promise<void> {
  for (let i = 0; i < 5; i++) await noop();
}
DBOS.registerWorkflow(one, { name: ONE });
DBOS.registerWorkflow(chain, { name: CHAIN });

const quiet: DLogger = {
  debug() {},
  info() {},
  warn: (m) => void process.stderr.write(`dbos warn: ${String(m)}\n`),
  error: (m) => void process.stderr.write(`dbos error: ${String(m)}\n`),
};

DBOS.setConfig({
  name: APP,
  applicationVersion: APP_VERSION,
  systemDatabaseUrl: process.env.DATABASE_URL!,
  systemDatabasePoolSize: Number(process.env.POOL ?? 10),
  logger: quiet,
  // the bench migrates once, before any worker starts
  runMigrations: false,
});
await DBOS.launch();
await DBOS.registerQueue(QUEUE, {
  workerConcurrency: Number(process.env.CONCURRENCY ?? 8),
  minPollingIntervalMs: Number(process.env.DBOS_POLL_MS ?? 10),
  onConflict: "always_update",
});
process.once("SIGTERM", () => void DBOS.shutdown().then(() => process.exit(0)));
process.stdout.write(`ready ${process.pid}\n`);
