/**
 * Real runs for the audit commands to read: a deploy that needs a retry, a rotation
 * whose second step fails with the generated password in its error message (planted
 * so the tests can prove no audit command prints it), and a refused token.
 */
import type { Knex } from "knex";
import { ActionError, type Action } from "../../../src/actions/types.js";
import { ActionRegistry } from "../../../src/actions/registry.js";
import { builtinActions } from "../../../src/actions/index.js";
import type { CliIO } from "../../../src/cli/command.js";
import { isFinalRunState } from "../../../src/engine/states.js";
import type { RequestSpec, WorkflowSpec } from "../../../src/formats/types.js";
import { appendAudit } from "../../../src/store/audit.js";
import type { Store } from "../../../src/store/db.js";
import { createRun, getRun, type RunStatus } from "../../../src/store/runs.js";
import { runWorker } from "../../../src/store/workers.js";

/** The secret the rotation generates; every test that prints anything checks it is absent. */
export const PLANTED = `pw-${Math.random().toString(36).slice(2)}-planted`;

// `any`: the registry holds actions of different input/output types, as builtinActions() does.
function actions(): Action<any, any>[] {
  const flaky: Action<{ failTimes: number }, { attempts: number }> = {
    name: "audit.flaky",
    description: "Fails its first failTimes attempts with a connection error.",
    input: { type: "object" },
    output: { type: "object" },
    async run(input, ctx) {
      if (ctx.identity.attempt <= input.failTimes) throw new ActionError("connection", `upstream refused (attempt ${ctx.identity.attempt})`);
      return { attempts: ctx.identity.attempt };
    },
  };
  const secret: Action<Record<string, never>, { password: string; length: number }> = {
    name: "audit.secret",
    description: "Returns the planted password as a secret output.",
    input: { type: "object" },
    output: { type: "object" },
    secretOutputs: ["password"],
    async run(_input, ctx) {
      ctx.markSecret(PLANTED);
      return { password: PLANTED, length: PLANTED.length };
    },
    async rollback() {},
  };
  const leaky: Action<{ password: string }, Record<string, never>> = {
    name: "audit.leaky",
    description: "Fails with the password in its message and its log.",
    input: { type: "object" },
    output: { type: "object" },
    async run(input, ctx) {
      ctx.log.info(`trying password ${input.password}`);
      throw new ActionError("http-4xx", `server refused password ${input.password}`);
    },
  };
  return [flaky, secret, leaky];
}

export function registry(): ActionRegistry {
  return new ActionRegistry([...builtinActions(), ...actions()]);
}

export const DEPLOY: WorkflowSpec = {
  apiVersion: "clutch-luigi/v1",
  kind: "Workflow",
  name: "deploy-api",
  steps: [
    { id: "prepare", uses: "noop" },
    { id: "rollout", uses: "audit.flaky", needs: ["prepare"], with: { failTimes: 1 }, retry: { attempts: 3, backoff: "10ms", on: ["connection"] } },
  ],
} as WorkflowSpec;

export const ROTATE: WorkflowSpec = {
  apiVersion: "clutch-luigi/v1",
  kind: "Workflow",
  name: "rotate-db-credentials",
  steps: [
    { id: "password", uses: "audit.secret" },
    { id: "alter-role", uses: "audit.leaky", needs: ["password"], with: { password: "${{ steps.password.outputs.password }}" } },
  ],
} as WorkflowSpec;

function request(workflow: WorkflowSpec, params: Record<string, unknown>, reason: string): RequestSpec {
  return { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: workflow.name, reason, params } as RequestSpec;
}

async function waitFinal(store: Store, runId: string): Promise<RunStatus> {
  const end = Date.now() + 20_000;
  for (;;) {
    const run = await getRun(store, runId);
    if (run && isFinalRunState(run.state)) return run;
    if (Date.now() > end) throw new Error(`run ${runId} did not finish: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Scenario {
  deployId: string;
  rotateId: string;
  deploy: RunStatus;
  rotate: RunStatus;
}

export async function runScenario(store: Store): Promise<Scenario> {
  const reg = registry();
  const deploy = await createRun(store, {
    workflow: DEPLOY,
    request: request(DEPLOY, { service: "api", version: "build-7f3e" }, "OPS-42 ship the api"),
    requestPath: "requests/prod/deploy-api.yaml",
    repository: "acme/ops",
    pullRequest: 17,
    commit: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
    requester: { login: "alice", type: "User" },
    approvers: [{ login: "bob", reviewId: 80 }, { login: "carol", reviewId: 81 }],
    registry: reg,
  });
  const rotate = await createRun(store, {
    workflow: ROTATE,
    request: request(ROTATE, { database: "orders", role: "app_rw" }, "OPS-1234 quarterly rotation"),
    requestPath: "requests/prod/rotate-orders.yaml",
    repository: "acme/ops",
    pullRequest: 18,
    commit: "0a1b2c3d",
    requester: { login: "dependabot[bot]", type: "Bot" },
    approvers: [{ login: "dave", reviewId: 90 }],
    breakGlass: true,
    registry: reg,
  });
  const stop = new AbortController();
  const errors: unknown[] = [];
  const worker = runWorker(store, { registry: reg, concurrency: 2, pollMs: 20, leaseMs: 5_000, signal: stop.signal, onError: (e) => errors.push(e) });
  try {
    const [d, r] = [await waitFinal(store, deploy.runId), await waitFinal(store, rotate.runId)];
    await store.db.transaction((trx: Knex.Transaction) =>
      appendAudit(trx, { kind: "auth.rejected", actor: "anonymous", data: { reason: "bad_signature", path: "/api/runs" } }),
    );
    if (errors.length > 0) throw errors[0];
    return { deployId: deploy.runId, rotateId: rotate.runId, deploy: d, rotate: r };
  } finally {
    stop.abort();
    await worker;
  }
}

export interface TestIO extends CliIO {
  out(): string;
  err(): string;
}

export function testIO(env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): TestIO {
  let out = "";
  let err = "";
  return {
    stdout: { write: (c: string) => (out += c), isTTY: false },
    stderr: { write: (c: string) => (err += c) },
    cwd,
    env,
    out: () => out,
    err: () => err,
  };
}

/** Change rows the way only a superuser can: with triggers (the append-only guard) off for one transaction. */
export async function asSuperuser(store: Store, statements: [string, Knex.RawBinding[]?][]): Promise<void> {
  await store.db.transaction(async (trx: Knex.Transaction) => {
    await trx.raw("set local session_replication_role = replica");
    for (const [sql, bindings] of statements) await trx.raw(sql, bindings ?? []);
  });
}
