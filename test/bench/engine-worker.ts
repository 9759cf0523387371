/** One engine worker process for `npm run bench:engine`: built-in actions only. */
import { defaultRegistry } from "../../src/actions/index.js";
import { openStore } from "../../src/store/db.js";
import { runWorker } from "../../src/store/workers.js";

const store = await openStore({ databaseUrl: process.env.DATABASE_URL!, poolMax: Number(process.env.POOL ?? 4), migrate: false });
const ctl = new AbortController();
process.once("SIGTERM", () => ctl.abort());
process.stdout.write(`ready ${process.pid}\n`);
await runWorker(store, {
  registry: defaultRegistry(),
  concurrency: Number(process.env.CONCURRENCY ?? 8),
  pollMs: 1_000,
  signal: ctl.signal,
  onError: (e) => process.stderr.write(`${(e as Error).message}\n`),
});
await store.close();
