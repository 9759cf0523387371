/** Option checks shared by the audit subcommands: all of them fail before the database is opened. */
import type { Knex } from "knex";
import { parseInstant } from "../../../audit/instant.js";
import { runIdsWithPrefix } from "../../../store/audit-query.js";
import { UsageError } from "../../command.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PREFIX = /^[0-9a-f][0-9a-f-]{3,35}$/i;

export function instantOption(text: string | undefined, flag: string): Date | undefined {
  if (text === undefined) return undefined;
  const r = parseInstant(text);
  if ("error" in r) throw new UsageError(`${flag}: ${r.error}`);
  return r.at;
}

/** A run id or the start of one (at least 4 hex digits, as `audit list` shows 8). */
export function runIdOption(text: string | undefined, flag: string): string | undefined {
  if (text === undefined) return undefined;
  if (!UUID.test(text) && !PREFIX.test(text)) throw new UsageError(`${flag}: "${text}" is not a run id (a UUID, or its first 4+ hex digits)`);
  return text.toLowerCase();
}

/** The full run id for `text`; an unknown or ambiguous prefix is an error naming the candidates. */
export async function resolveRunId(db: Knex, text: string): Promise<string> {
  if (UUID.test(text)) return text.toLowerCase();
  const found = await runIdsWithPrefix(db, text, 5);
  if (found.length === 1) return found[0]!;
  if (found.length === 0) throw new Error(`no run in the audit trail starts with "${text}"`);
  throw new Error(`"${text}" matches several runs (${found.join(", ")}${found.length === 5 ? ", …" : ""}): give more of the id`);
}
