/**
 * One graphile-worker process (default mode: LISTEN/NOTIFY plus polling) for `bench:engine`.
 *   noop   an independent job
 *   chain  payload {i}: a 5-step chain, each job adding the next one, graphile's idiom
 * graphile deletes a job once it succeeds, so the process itself keeps what the bench
 * measures: ready→start of every job (now − run_at, run_at being when it became runnable)
 * and when the last one finished. It prints them as one `stats` line on SIGTERM.
 */
import { run, type Logger, type Task } from "graphile-worker";

const silent = { scope: () => silent, debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger; // why: only the shape matters, graphile's Logger class is not needed for silence
const CHAIN = 5;

const latencies: number[] = [];
let lastEnd = 0;
const timed = (body: Task): Task => async (payload, helpers) => {
  latencies.push(Date.now() - helpers.job.run_at.getTime());
  await body(payload, helpers);
  lastEnd = Date.now();
};

const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  concurrency: Number(process.env.CONCURRENCY ?? 8),
  pollInterval: 1_000,
  noHandleSignals: true,
  logger: silent,
  taskList: {
    noop: timed(async () => undefined),
    chain: timed(async (payload, helpers) => {
      const i = (payload as { i: number }).i;
      if (i + 1 < CHAIN) await helpers.addJob("chain", { i: i + 1 });
    }),
  },
});
process.once("SIGTERM", () => void runner.stop());
process.stdout.write(`ready ${process.pid}\n`);
await runner.promise;
process.stdout.write(`stats ${JSON.stringify({ latencies, lastEnd })}\n`);
