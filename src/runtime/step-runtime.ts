/**
 * What a worker needs to execute real steps, assembled from the environment in one
 * place so the CLI (`run`, `worker`) and the app build workers the same way: the
 * server configuration, the signing key, the step context factory that carries
 * identity, resolves secrets and redacts them, durable step memos, and — when APP_ID
 * and the app's key are in the environment — the app's own GitHub identity for the
 * runs' installations.
 */
import { defaultRegistry } from "../actions/index.js";
import { createStepContextFactory, type StepContextFactoryOptions, type StepContextFactory } from "../actions/context.js";
import type { ActionRegistry } from "../actions/registry.js";
import type { ActionServices } from "../actions/types.js";
import type { GitHubAppService } from "../actions/builtin/github-client.js";
import { loadServerConfig } from "../server-config/index.js";
import { requireSharedKeys } from "../server-config/shared-keys.js";
import type { ServerConfig } from "../server-config/types.js";
import { appCredentialsFromEnv } from "../github/installation-auth.js";
import { createSigner } from "../identity/signer.js";
import type { StepTokenSigner } from "../identity/step-token.js";
import type { StepMemoService } from "../actions/step-memo.js";
import type { Store } from "../store/db.js";
import { runInstallation } from "../store/runs.js";
import { recallStepMemo, rememberStepMemo } from "../store/step-memos.js";
import { createGitHubAppService } from "./github-app.js";
import { WORKFLOW_DISPATCH_CALLBACKS, WORKFLOW_DISPATCH_RECORDER, type WorkflowDispatchCallbacks, type WorkflowDispatchRecorder } from "../actions/builtin/github-workflow-dispatch.js";
import { dispatchCallback, recordWorkflowDispatch } from "../store/dispatches.js";
import type { GitHubCallObserver } from "../github/observe-calls.js";

export interface StepRuntime {
  config: ServerConfig;
  signer: StepTokenSigner;
  registry: ActionRegistry;
  contextFactory: StepContextFactory;
  /** How GitHub steps authenticate on this worker, for its startup line (never a secret). */
  githubAuth: string;
  /** The app on each run's installation, when APP_ID and its key are set: steps and run reports use it. */
  githubApp?: GitHubAppService;
}

export interface StepRuntimeOptions {
  env: NodeJS.ProcessEnv;
  services?: ActionServices;
  sink?: StepContextFactoryOptions["sink"];
  /**
   * The workers' database: steps get durable memos, and with the app's credentials in
   * `env` GitHub steps act as the app on the installation recorded with their run.
   */
  store?: Store;
  /** Sees the GitHub calls of GitHub steps acting as the app (the server's metrics). */
  githubObserver?: GitHubCallObserver;
}

export async function createStepRuntime(opts: StepRuntimeOptions): Promise<StepRuntime> {
  const config = await loadServerConfig({ ...(opts.env.CLUTCH_LUIGI_CONFIG ? { path: opts.env.CLUTCH_LUIGI_CONFIG } : {}), env: opts.env });
  // Before any key is generated: on a shared database a key of this process alone is a silent split.
  requireSharedKeys(opts.env, config);
  const signer = await createSigner(config, opts.env);
  const store = opts.store;
  const credentials = store ? await appCredentialsFromEnv(opts.env) : null;
  const stepMemo: StepMemoService | undefined = store && {
    remember: (runId, stepId, value) => rememberStepMemo(store, runId, stepId, value),
    recall: (runId, stepId) => recallStepMemo(store, runId, stepId),
  };
  const githubApp = credentials && store ? createGitHubAppService(credentials, (runId) => runInstallation(store, runId), undefined, opts.githubObserver) : undefined;
  // Every worker on the shared database records its dispatches (the API binds callbacks to them) and wakes on their callbacks.
  const dispatches: ActionServices = store
    ? {
        [WORKFLOW_DISPATCH_RECORDER]: ((d) => recordWorkflowDispatch(store, d)) satisfies WorkflowDispatchRecorder,
        [WORKFLOW_DISPATCH_CALLBACKS]: ((runId, stepId) => dispatchCallback(store, runId, stepId)) satisfies WorkflowDispatchCallbacks,
      }
    : {};
  const services: ActionServices = {
    ...dispatches,
    ...(stepMemo ? { stepMemo } : {}),
    ...(githubApp ? { githubApp } : {}),
    ...(opts.services ?? {}),
  };
  const contextFactory = createStepContextFactory({
    signer,
    config,
    services,
    ...(opts.sink ? { sink: opts.sink } : {}),
  });
  const githubAuth = opts.services?.github
    ? "the client it was given"
    : config.github
      ? `github.tokenSecret (${config.github.tokenSecret})`
      : services.githubApp && credentials
        ? `app ${credentials.appId} on each run's installation`
        : "no credentials: set APP_ID and PRIVATE_KEY or PRIVATE_KEY_PATH, or github.tokenSecret";
  return { config, signer, registry: defaultRegistry(), contextFactory, githubAuth, ...(githubApp ? { githubApp } : {}) };
}
