import { createTestDatabase } from "../support/pg.js";
import { openStore } from "../../src/store/db.js";
import { createRun } from "../../src/store/runs.js";
import { runWorker } from "../../src/store/workers.js";
import { defaultRegistry } from "../../src/actions/index.js";
import pg from "pg";
const db = await createTestDatabase("wprof");
{ const c = new pg.Client({ connectionString: db.url }); await c.connect(); await c.query(`alter database "${db.name}" set track_functions = 'pl'`); await c.end(); }
const store = await openStore({ databaseUrl: db.url, poolMax: 4 });
const N = Number(process.env.N ?? 3000), C = Number(process.env.C ?? 8);
const wf = { apiVersion: "clutch-luigi/v1" as const, kind: "Workflow" as const, name: "w", steps: Array.from({ length: N }, (_, i) => ({ id: `s${i}`, uses: "noop" })) };
const chain = { apiVersion: "clutch-luigi/v1" as const, kind: "Workflow" as const, name: "c", steps: Array.from({ length: 5 }, (_, i) => ({ id: `c${i}`, uses: "noop", ...(i > 0 ? { needs: [`c${i - 1}`] } : {}) })) };
const CHAINS = Number(process.env.CHAINS ?? 0);
const ids: string[] = [];
for (let i = 0; i < CHAINS; i++) ids.push((await createRun(store, { workflow: chain, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "c", reason: "b" }, requestPath: "b", repository: "o/r", requester: { login: "b", type: "User" }, approvers: [] })).runId);
const { runId } = CHAINS ? { runId: "" } : await createRun(store, { workflow: wf, request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "w", reason: "b" }, requestPath: "b", repository: "o/r", requester: { login: "b", type: "User" }, approvers: [], maxParallel: N });
const ctl = new AbortController();
const t0 = performance.now();
const w = runWorker(store, { registry: defaultRegistry(), concurrency: C, signal: ctl.signal, onError: (e) => console.error(e) });
const c = new pg.Client({ connectionString: db.url }); await c.connect();
for (;;) { const r = await c.query("select count(*)::int as n from runs where state in ('running','waiting')"); if (r.rows[0].n === 0) break; await new Promise((r) => setTimeout(r, 20)); }
const ms = performance.now() - t0;
const NN = CHAINS ? CHAINS * 5 : N;
console.log(`${NN} steps in ${ms.toFixed(0)} ms: ${(NN / ms * 1000).toFixed(0)} steps/s (real worker in-process, C=${C})`);
ctl.abort(); await w;
await new Promise((r) => setTimeout(r, 1200));
const st = await c.query("select funcname, calls, round(total_time::numeric,1) total_ms, round(self_time::numeric,1) self_ms from pg_stat_user_functions order by self_time desc limit 8"); console.table(st.rows);
const x = await c.query("select xact_commit from pg_stat_database where datname = current_database()"); console.log("commits", x.rows[0]); await c.end(); await store.close(); await db.drop();
process.exit(0);
