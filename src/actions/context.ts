/**
 * The real StepContext the worker hands to actions: identity, abort signal, a
 * logger that redacts every secret the step has seen, step tokens, and secrets
 * resolved by name at run time.
 */
import type { ServerConfig } from "../server-config/types.js";
import { Redactor, SecretResolver } from "./secrets.js";
import { ActionError, type Action, type ActionServices, type IdentityContext, type StepContext, type StepLogger } from "./types.js";

export interface StepLogEntry {
  level: "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown>;
  runId: string;
  stepId: string;
  attempt: number;
  at: string;
}

export interface StepTokenIssuer {
  signStepToken(identity: IdentityContext, audience: string): Promise<string>;
}

export interface StepContextFactoryOptions {
  signer: StepTokenIssuer;
  config: ServerConfig;
  /** Defaults to a resolver over `config.secrets` and process.env. */
  secrets?: SecretResolver;
  /** Extra services (e.g. `github`: the installation's Octokit). `config` is always added. */
  services?: ActionServices;
  /** Where redacted log lines go. Default: one JSON line per entry on stderr. */
  sink?: (entry: StepLogEntry) => void;
}

/**
 * `secretsSeen` is the engine's per-attempt set: every secret value this context
 * learns (and every one the run learned before) is added to it, so the worker can
 * seal matching outputs and scrub error messages too.
 */
export type StepContextFactory = (identity: IdentityContext, signal: AbortSignal, secretsSeen?: Set<string>) => StepContext;

/** Services every context carries, under these keys. */
export interface CoreServices extends ActionServices {
  config: ServerConfig;
}

const contexts = new WeakMap<StepContext, Redactor>();

/** The redactor behind a context made by this factory (the engine scrubs errors and outputs with it). */
export function redactorOf(ctx: StepContext): Redactor | undefined {
  return contexts.get(ctx);
}

/** Register the values of an action's secret outputs, so later logs of this run hide them. */
export function markSecretOutputs(ctx: StepContext, action: Pick<Action, "secretOutputs">, outputs: Record<string, unknown>): void {
  for (const name of action.secretOutputs ?? []) {
    const v = outputs[name];
    if (typeof v === "string") ctx.markSecret(v);
  }
}

const MAX_RUNS_REMEMBERED = 1000;

export function createStepContextFactory(options: StepContextFactoryOptions): StepContextFactory {
  const secrets = options.secrets ?? new SecretResolver(options.config.secrets);
  const sink = options.sink ?? ((e: StepLogEntry) => process.stderr.write(`${JSON.stringify(e)}\n`));
  // A secret produced by one step (a generated password) is an input of the next:
  // remembering secrets per run lets every later step of the run redact it too.
  const byRun = new Map<string, Redactor>();
  const runRedactor = (runId: string): Redactor => {
    let r = byRun.get(runId);
    if (!r) {
      r = new Redactor();
      byRun.set(runId, r);
      if (byRun.size > MAX_RUNS_REMEMBERED) byRun.delete(byRun.keys().next().value as string);
    }
    return r;
  };

  return (given, signal, secretsSeen) => {
    // What the step token asserts must be what the engine recorded: no action can edit it.
    const identity = deepFreeze(structuredClone(given));
    const redactor = runRedactor(identity.runId);
    // Both ways: secrets the engine knows for this attempt (e.g. decrypted secret
    // outputs it substituted into the input, even after this point) are redacted here too.
    if (secretsSeen) redactor.follow(secretsSeen);
    for (const v of redactor.values) secretsSeen?.add(v);
    const remember = (value: string): void => {
      redactor.add(value);
      if (typeof value === "string" && value !== "") secretsSeen?.add(value);
    };
    const write = (level: StepLogEntry["level"]) => (message: string, fields?: Record<string, unknown>) => {
      const entry: StepLogEntry = {
        level,
        message: redactor.redact(String(message)),
        ...(fields ? { fields: redactor.redactValue(fields) } : {}),
        runId: identity.runId,
        stepId: identity.stepId,
        attempt: identity.attempt,
        at: new Date().toISOString(),
      };
      sink(entry);
    };
    const log: StepLogger = { info: write("info"), warn: write("warn"), error: write("error") };
    const services: CoreServices = { ...(options.services ?? {}), config: options.config };
    const ctx: StepContext = {
      identity,
      signal,
      log,
      token: (audience) => options.signer.signStepToken(identity, audience),
      async secret(name) {
        const value = await secrets.resolve(name);
        remember(value);
        return value;
      },
      markSecret: remember,
      services,
    };
    contexts.set(ctx, redactor);
    return ctx;
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The server configuration from a context's services (actions that need connections or the allow-list). */
export function configOf(ctx: StepContext): ServerConfig {
  const config = (ctx.services as Partial<CoreServices>).config;
  if (!config) throw new ActionError("misconfigured", "the step context carries no server configuration (services.config)");
  return config;
}
