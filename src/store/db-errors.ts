/**
 * Telling the database's two kinds of failure apart: unreachable (wait it out) and
 * refusing the data itself (sending the same values again cannot succeed).
 */
import { classifyError } from "../actions/types.js";
import { UnstorableResultError } from "../engine/queue.js";

/** The database is unreachable or went away mid-query: worth waiting out, unlike a refusal. */
export function isConnectionError(err: unknown): boolean {
  if (classifyError(err) === "connection") return true;
  const e = err as { name?: unknown; message?: unknown } | null;
  if (e?.name === "KnexTimeoutError") return true;
  return typeof e?.message === "string"
    && /Connection terminated|Connection ended unexpectedly|connection error|ECONNREFUSED|ECONNRESET|server closed the connection/i.test(e.message);
}

/**
 * Postgres refused the data itself (class 22: data exception, e.g. a NUL in jsonb;
 * class 54: a limit exceeded).
 */
export function refusedData(err: unknown): UnstorableResultError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^(22|54)/.test(code)) return null;
  const msg = err instanceof Error ? err.message : String(err);
  // knex puts the statement in front of the server's message; keep only the latter.
  return new UnstorableResultError(msg.slice(msg.lastIndexOf(" - ") + 3 || 0), { cause: err });
}
