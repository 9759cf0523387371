/**
 * What a worker needs to execute real steps, assembled from the environment in one
 * place so the CLI (`run`, `worker`) and the app build workers the same way: the
 * server configuration, the signing key, the step context factory that carries
 * identity, resolves secrets and redacts them, and — when APP_ID and the app's key are
 * in the environment — the app's own GitHub identity for the runs' installations.
 */
import { defaultRegistry } from "../actions/index.js";
import { createStepContextFactory, type StepContextFactoryOptions, type StepContextFactory } from "../actions/context.js";
import type { ActionRegistry } from "../actions/registry.js";
import type { ActionServices } from "../actions/types.js";
import { loadServerConfig } from "../server-config/index.js";
import type { ServerConfig } from "../server-config/types.js";
import { appCredentialsFromEnv } from "../github/installation-auth.js";
import { createSigner } from "../identity/signer.js";
import type { StepTokenSigner } from "../identity/step-token.js";
import { createGitHubAppService, type InstallationOf } from "./github-app.js";

export interface StepRuntime {
  config: ServerConfig;
  signer: StepTokenSigner;
  registry: ActionRegistry;
  contextFactory: StepContextFactory;
}

export interface StepRuntimeOptions {
  env: NodeJS.ProcessEnv;
  services?: ActionServices;
  sink?: StepContextFactoryOptions["sink"];
  /** Where a run's installation is recorded (the store); with the app's credentials, GitHub steps act as the app. */
  installationOf?: InstallationOf;
}

export async function createStepRuntime(opts: StepRuntimeOptions): Promise<StepRuntime> {
  const config = await loadServerConfig({ ...(opts.env.CLUTCH_LUIGI_CONFIG ? { path: opts.env.CLUTCH_LUIGI_CONFIG } : {}), env: opts.env });
  const signer = await createSigner(config, opts.env);
  const credentials = opts.installationOf ? await appCredentialsFromEnv(opts.env) : null;
  const services: ActionServices = {
    ...(credentials && opts.installationOf ? { githubApp: createGitHubAppService(credentials, opts.installationOf) } : {}),
    ...(opts.services ?? {}),
  };
  const contextFactory = createStepContextFactory({
    signer,
    config,
    services,
    ...(opts.sink ? { sink: opts.sink } : {}),
  });
  return { config, signer, registry: defaultRegistry(), contextFactory };
}
