/**
 * One DBOS Transact worker process for `npm run bench:engine`: the second peer.
 * It dequeues from one queue with `workerConcurrency` = CONCURRENCY, the equal of
 * our worker's steps in flight. Two workflows: `one` runs a single no-op step (an
 * independent step of ours), `chain` runs five no-op steps one after the other.
 */
import { DBOS } from "@dbos-inc/dbos-sdk";

const noop = DBOS.registerStep(async (): Promise<void> => undefined, { name: "noop" });
DBOS.registerWorkflow(async (): Promise<void> => { await noop(); }, { name: "one" });
DBOS.registerWorkflow(async (): Promise<void> => { for (let i = 0; i < 5; i++) await noop(); }, { name: "chain" });

DBOS.setConfig({
  name: "bench",
  systemDatabaseUrl: process.env.DATABASE_URL!,
  applicationVersion: "bench",
  logLevel: "error",
  runMigrations: false,
  listenQueues: [process.env.DBOS_QUEUE ?? "bench"],
});
await DBOS.launch();
process.once("SIGTERM", () => void DBOS.shutdown().then(() => process.exit(0)));
process.stdout.write(`ready ${process.pid}\n`);
