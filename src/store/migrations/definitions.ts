/**
 * A migration's own definition of one of its functions, for a later migration that
 * re-creates it changed or restores it on down(): migrations are history, so the
 * earlier text is looked up where it was written rather than copied.
 */
export function replaceableDefinition(functions: readonly string[], signature: string, migration: string): string {
  const sql = functions.find((f) => f.startsWith(`create function ${signature}`));
  if (!sql) throw new Error(`migration ${migration} has no function ${signature}`);
  return sql.replace(/^create function/, "create or replace function");
}

/** `sql` with its one occurrence of `from` replaced by `to`; `what` names it when there is none or more than one. */
export function replacedOnce(sql: string, from: string, to: string, what: string): string {
  const at = sql.indexOf(from);
  if (at < 0 || sql.indexOf(from, at + 1) >= 0) throw new Error(`expected one ${what}`);
  return sql.slice(0, at) + to + sql.slice(at + from.length);
}
