/**
 * Builds real step contexts for action tests: the production factory, a real
 * signer with a freshly generated key ring, and a log sink the test can read.
 */
import { parseServerConfig } from "../../../src/server-config/load.js";
import type { ServerConfig } from "../../../src/server-config/types.js";
import { createStepContextFactory, type StepLogEntry } from "../../../src/actions/context.js";
import { SecretResolver } from "../../../src/actions/secrets.js";
import { ActionError, type ActionServices, type IdentityContext, type StepContext } from "../../../src/actions/types.js";
import { generateSigningJwk, parseKeyRing } from "../../../src/identity/keys.js";
import { StepTokenSigner } from "../../../src/identity/step-token.js";

export function testIdentity(over: Partial<IdentityContext> = {}): IdentityContext {
  return {
    repository: "acme/ops",
    pullRequest: 42,
    commit: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
    requestPath: "requests/2026/ops-1234.yaml",
    workflow: "rotate-db-credentials",
    requester: { login: "alice", type: "User" },
    approvers: [{ login: "bob", reviewId: 80 }, { login: "carol", reviewId: 81 }],
    runId: "run-1",
    stepId: "step-1",
    attempt: 1,
    idempotencyKey: "run-1:step-1",
    ...over,
  };
}

export async function testSigner(issuer = "http://127.0.0.1/clutch-luigi"): Promise<StepTokenSigner> {
  const ring = await parseKeyRing(JSON.stringify({ keys: [await generateSigningJwk("ES256")] }), "test");
  return new StepTokenSigner(ring, { issuer });
}

export interface TestContext {
  ctx: StepContext;
  logs: StepLogEntry[];
  signer: StepTokenSigner;
  config: ServerConfig;
  abort: AbortController;
}

export async function testContext(options: {
  config?: string;
  env?: Record<string, string | undefined>;
  services?: ActionServices;
  identity?: Partial<IdentityContext>;
  signer?: StepTokenSigner;
} = {}): Promise<TestContext> {
  const env = options.env ?? {};
  const config = parseServerConfig(options.config ?? "{}", "test-config.yaml", env);
  const signer = options.signer ?? (await testSigner());
  const logs: StepLogEntry[] = [];
  const factory = createStepContextFactory({
    signer,
    config,
    secrets: new SecretResolver(config.secrets, env),
    services: options.services ?? {},
    sink: (e) => logs.push(e),
  });
  const abort = new AbortController();
  return { ctx: factory(testIdentity(options.identity), abort.signal), logs, signer, config, abort };
}

/** The inputs every injection test pushes through an action as data. */
export const HOSTILE_VALUES = ["; rm -rf /", "$(id)", "`id`", "' OR 1=1 --", "a\nb\r\nc", "x && echo pwned", "../../etc/passwd", "${HOME}"];

/** The ActionError a promise rejects with; fails the test if it resolves. */
export async function failure(p: Promise<unknown>): Promise<ActionError> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    if (e instanceof ActionError) return e;
    throw new Error(`expected an ActionError, got ${String(e)}`);
  }
  throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
}
