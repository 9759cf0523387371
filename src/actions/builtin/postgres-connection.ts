/** Opening a named Postgres connection from server config, with the password from a secret. */
import pg from "pg";
import { configOf } from "../context.js";
import { ActionError, classifyError, type StepContext } from "../types.js";
import { whenAborted } from "../../engine/timers.js";

export const CONNECTION_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]*$";

/**
 * Connect, run `fn`, always disconnect. An abort (timeout, cancel) ends the
 * connection, which makes the server cancel whatever statement was running.
 */
export async function withConnection<T>(ctx: StepContext, name: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const connections = configOf(ctx).connections.postgres;
  const conf = Object.hasOwn(connections, name) ? connections[name] : undefined;
  if (!conf) throw new ActionError("invalid-input", `no Postgres connection named "${name}" in the server configuration`);
  const password = conf.passwordSecret ? await ctx.secret(conf.passwordSecret) : undefined;
  if (ctx.signal.aborted) throw new ActionError("timeout", "aborted before connecting");
  const client = new pg.Client({
    host: conf.host,
    port: conf.port,
    database: conf.database,
    user: conf.user,
    ...(password !== undefined ? { password } : {}),
    ...(conf.ssl ? { ssl: true } : {}),
    connectionTimeoutMillis: conf.connectTimeoutMs ?? 10_000,
    application_name: `clutch-luigi/${ctx.identity.runId}/${ctx.identity.stepId}`.slice(0, 63),
  });
  // pg emits connection-level errors as events; unhandled they would crash the worker.
  client.on("error", () => undefined);
  const onAbort = (): void => {
    void client.end().catch(() => undefined);
  };
  whenAborted(ctx.signal, onAbort);
  try {
    try {
      await client.connect();
    } catch (e) {
      // A refusal by the server (bad password, unknown database) is final, not a flaky network.
      const sqlstate = (e as { code?: unknown }).code;
      const cls = classifyError(e);
      const code = ctx.signal.aborted ? "timeout" : cls !== "error" ? cls : typeof sqlstate === "string" && /^[0-9A-Z]{5}$/.test(sqlstate) ? `sqlstate-${sqlstate}` : "connection";
      throw new ActionError(code, `cannot connect to "${name}": ${(e as Error).message}`, { cause: e });
    }
    return await fn(client);
  } catch (e) {
    if (e instanceof ActionError) throw e;
    if (ctx.signal.aborted) throw new ActionError("timeout", `statement on "${name}" aborted`, { cause: e });
    throw toActionError(e, name);
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    await client.end().catch(() => undefined);
  }
}

/** Postgres errors keep their SQLSTATE as the code (e.g. `42P01`), so `retry.on` can name one. */
function toActionError(e: unknown, name: string): ActionError {
  const cls = classifyError(e);
  const sqlstate = (e as { code?: unknown }).code;
  const code = cls !== "error" ? cls : typeof sqlstate === "string" && /^[0-9A-Z]{5}$/.test(sqlstate) ? `sqlstate-${sqlstate}` : "postgres-error";
  return new ActionError(code, `on "${name}": ${(e as Error).message}`, { cause: e });
}
