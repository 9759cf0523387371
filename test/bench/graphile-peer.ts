/** One graphile-worker process running no-op jobs: the peer `bench:engine` compares against. */
import { run, type Logger } from "graphile-worker";

const silent = { scope: () => silent, debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger; // why: only the shape matters, graphile's Logger class is not needed for silence
const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  concurrency: Number(process.env.CONCURRENCY ?? 8),
  pollInterval: 1_000,
  noHandleSignals: true,
  logger: silent,
  taskList: { noop: async () => undefined },
});
process.once("SIGTERM", () => void runner.stop());
process.stdout.write(`ready ${process.pid}\n`);
await runner.promise;
