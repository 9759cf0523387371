/**
 * The long-running server `npm start` runs: HTTP surface, in-process workers, and the
 * wiring between them and the store. Stateless apart from Postgres, so any number of
 * replicas may run side by side; each also runs workers unless told not to.
 */
import type { AddressInfo } from "node:net";
import type { CallerIdentity, OidcRejectEvent } from "../identity/oidc.js";
import { OidcVerifier } from "../identity/oidc.js";
import type { GitHubActionsCallback } from "../api/index.js";
import { createStepRuntime } from "../runtime/step-runtime.js";
import { appendAudit } from "../store/audit.js";
import type { RefusalSink } from "../api/auth.js";
import { findWorkflowDispatch, noteDispatchCallback, runRepository } from "../store/dispatches.js";
import { openStore, storeOptionsFromEnv, type Store } from "../store/db.js";
import { cancelRun, getRun } from "../store/runs.js";
import { runWorker } from "../store/workers.js";
import { createHttpServer, type Middleware } from "./http.js";
import { RunReporter, reporterSettings } from "../github/run-report/reporter.js";
import { startDeliveryProcessor, type DeliveryProcessor } from "./delivery-processor.js";
import { createMetrics, type AppMetrics } from "./metrics.js";
import type { ProbotWebhooks } from "./probot.js";
import type { GitHubCallObserver } from "../github/observe-calls.js";
import { RefusalAggregator } from "./refusals.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ServerHandle {
  url: string;
  store: Store;
  metrics: AppMetrics;
  /** The webhook delivery queue as this process works it. */
  deliveries: {
    /** Resolves once no delivery is pending, retrying or running (what tests wait on after posting a webhook). */
    idle(timeoutMs?: number): Promise<void>;
  };
  /** Write the open refusal windows' aggregate rows now (also done by close). */
  flushRefusals(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where operational messages go (never secrets). */
  log?: (message: string) => void;
  /** Mounted before the API, e.g. the setup flow. */
  before?: Middleware[];
  /** The GitHub App's webhook endpoint and processor; the server mounts one and runs the other. */
  webhooks?: ProbotWebhooks;
}

function positiveInt(v: string | undefined): number | undefined {
  const n = v === undefined ? NaN : Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function callerName(caller: CallerIdentity): string {
  return caller.login ?? (caller.repository ? `${caller.repository}:${caller.workflow ?? "?"}` : caller.subject);
}

export async function startServer(opts: StartOptions): Promise<ServerHandle> {
  const env = opts.env;
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const store = await openStore(storeOptionsFromEnv(env, opts.cwd ?? process.cwd()));
  const metrics = createMetrics(store.db);
  const githubObserver: GitHubCallObserver = {
    call: (route, status) => metrics.githubCalls.inc({ route, status: String(status) }),
    rateLimitRemaining: (installation, remaining) => metrics.githubRateLimitRemaining.set({ installation: String(installation) }, remaining),
  };
  const runtime = await createStepRuntime({ env, store, githubObserver });
  const audit = (kind: string, actor: string, data: Record<string, unknown>, runId?: string, stepId?: string) =>
    store.db.transaction((trx) => appendAudit(trx, { kind, actor, data, runId: runId ?? null, stepId: stepId ?? null }));

  // Refusals are in the chain before the answer leaves, but repeats from one source are counted, not each written.
  const aggregator = new RefusalAggregator({
    write: (kind, data) => audit(kind, "anonymous", data),
    ...(positiveInt(env.CLUTCH_LUIGI_REFUSAL_WINDOW_MS) ? { windowMs: positiveInt(env.CLUTCH_LUIGI_REFUSAL_WINDOW_MS) } : {}),
    ...(positiveInt(env.CLUTCH_LUIGI_REFUSAL_LIMIT) ? { limit: positiveInt(env.CLUTCH_LUIGI_REFUSAL_LIMIT) } : {}),
    onError: (e) => log(`audit: ${e instanceof Error ? e.message : String(e)}`),
  });
  const refusals: RefusalSink = {
    limited: (remote) => aggregator.limited(remote),
    refuse: (kind, reason, info) =>
      aggregator.record(kind, { ...(info.remoteAddress ? { remoteAddress: info.remoteAddress } : {}), ...(info.caller ? { issuer: info.caller.issuer } : {}) }, reason, {
        path: info.path,
        ...(info.remoteAddress ? { remoteAddress: info.remoteAddress } : {}),
        ...(info.caller ? { caller: callerName(info.caller), issuer: info.caller.issuer } : {}),
      }),
  };

  const verifier = new OidcVerifier(runtime.config.oidc.issuers, {
    audit: (e: OidcRejectEvent) =>
      aggregator.record("auth.rejected", { ...(e.remoteAddress ? { remoteAddress: e.remoteAddress } : {}), ...(e.issuer ? { issuer: e.issuer } : {}) }, e.reason, {
        message: e.message,
        ...(e.issuer ? { claimedIssuer: e.issuer } : {}),
        ...(e.subject ? { claimedSubject: e.subject } : {}),
        ...(e.path ? { path: e.path } : {}),
        ...(e.remoteAddress ? { remoteAddress: e.remoteAddress } : {}),
      }),
  });

  const server = createHttpServer({
    db: store.db,
    metrics,
    signer: runtime.signer,
    verifier,
    before: [...(opts.webhooks ? [opts.webhooks.middleware] : []), ...(opts.before ?? [])],
    operators: runtime.config.api.operators,
    refusals,
    getRun: async (runId) => {
      if (!UUID.test(runId)) return undefined;
      const repository = await runRepository(store, runId);
      const status = repository === undefined ? null : await getRun(store, runId);
      return repository !== undefined && status ? { repository, status } : undefined;
    },
    cancelRun: async (runId, caller, reason) => {
      const before = UUID.test(runId) ? await getRun(store, runId) : null;
      if (!before) return { found: false };
      if (!["waiting", "running", "rolling_back"].includes(before.state)) return { found: true, cancelled: false, state: before.state };
      const origin = { via: "api", issuer: caller.issuer, subject: caller.subject, ...(reason !== undefined ? { reason } : {}) };
      return { found: true, cancelled: true, state: await cancelRun(store, runId, callerName(caller), origin) };
    },
    findDispatch: async (runId, stepId) => (UUID.test(runId) ? findWorkflowDispatch(store, runId, stepId) : { step: false }),
    deliverCallback: async (cb: GitHubActionsCallback) => {
      // Output values may be anything the workflow chose to send: only their names are kept.
      await audit(
        "callback.received",
        callerName(cb.caller),
        { status: cb.status, outputs: Object.keys(cb.outputs), ...(cb.workflowRunId ? { workflowRunId: cb.workflowRunId } : {}) },
        cb.runId,
        cb.stepId,
      );
      // The waiting step wakes on it within a second (and reads the conclusion from GitHub).
      await noteDispatchCallback(store, cb.runId, cb.stepId, cb.workflowRunId, String(cb.status));
    },
    onError: (e) => log(`server: ${e instanceof Error ? e.message : String(e)}`),
  });

  const port = Number(env.PORT ?? 3000);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, env.HOST ?? "0.0.0.0", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address === "0.0.0.0" || address.address === "::" ? "127.0.0.1" : address.address}:${address.port}`;

  const stopWorkers = new AbortController();
  const workerCount = env.CLUTCH_LUIGI_WORKERS === "0" ? 0 : 1;
  const workers =
    workerCount > 0
      ? runWorker(store, {
          registry: runtime.registry,
          contextFactory: runtime.contextFactory,
          concurrency: runtime.config.worker.concurrency,
          signal: stopWorkers.signal,
          onAttempt: (a) => metrics.stepSeconds.observe({ action: a.action, outcome: a.phase === "rollback" ? `rollback-${a.outcome}` : a.outcome }, a.seconds),
          onError: (e) => log(`worker: ${e instanceof Error ? e.message : String(e)}`),
        })
      : Promise.resolve();
  // Runs' checks and outcome comments, in this process as in every other one with the app's credentials.
  const githubApp = runtime.githubApp;
  const reports = githubApp
    ? new RunReporter({ db: store.db, clientFor: (runId, repository) => githubApp.clientFor(runId, repository), ...reporterSettings(env), onError: (e) => log(`reporter: ${e instanceof Error ? e.message : String(e)}`) }).run(stopWorkers.signal)
    : Promise.resolve();
  // Every app server works the delivery queue, whatever CLUTCH_LUIGI_WORKERS says: that is about steps.
  const webhooks = opts.webhooks;
  const processor: DeliveryProcessor | null = webhooks
    ? startDeliveryProcessor({
        store,
        metrics,
        log: (m) => log(`webhooks: ${m}`),
        ...(positiveInt(env.CLUTCH_LUIGI_WEBHOOK_CONCURRENCY) ? { concurrency: positiveInt(env.CLUTCH_LUIGI_WEBHOOK_CONCURRENCY) } : {}),
        ...(positiveInt(env.CLUTCH_LUIGI_WEBHOOK_LEASE_MS) ? { leaseMs: positiveInt(env.CLUTCH_LUIGI_WEBHOOK_LEASE_MS) } : {}),
        ...(positiveInt(env.CLUTCH_LUIGI_WEBHOOK_POLL_MS) ? { pollMs: positiveInt(env.CLUTCH_LUIGI_WEBHOOK_POLL_MS) } : {}),
        retry: {
          ...(positiveInt(env.CLUTCH_LUIGI_WEBHOOK_MAX_ATTEMPTS) ? { maxAttempts: positiveInt(env.CLUTCH_LUIGI_WEBHOOK_MAX_ATTEMPTS) } : {}),
          ...(positiveInt(env.CLUTCH_LUIGI_WEBHOOK_RETRY_BASE_MS) ? { baseMs: positiveInt(env.CLUTCH_LUIGI_WEBHOOK_RETRY_BASE_MS) } : {}),
        },
        ...(positiveInt(env.CLUTCH_LUIGI_WEBHOOK_TIMEOUT_MS) ? { timeoutMs: positiveInt(env.CLUTCH_LUIGI_WEBHOOK_TIMEOUT_MS) } : {}),
        process: (d, signal) => webhooks.process(d, githubObserver, signal),
      })
    : null;
  if (processor) webhooks!.onRecorded(() => processor.wake());

  log(`clutch-luigi listening on ${url} (${store.backend === "pg" ? "postgres" : "embedded database"}, ${workerCount ? `worker concurrency ${runtime.config.worker.concurrency}` : "no workers"})`);

  return {
    url,
    store,
    metrics,
    deliveries: { idle: (timeoutMs) => processor?.idle(timeoutMs) ?? Promise.resolve() },
    flushRefusals: () => aggregator.flush(),
    async close() {
      stopWorkers.abort();
      await Promise.all([workers, reports, processor?.stop()]);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await aggregator.flush();
      await store.close();
    },
  };
}
