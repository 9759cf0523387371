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
