/**
 * The database's shape as text, for the schema snapshot: tables with their columns,
 * constraints, indexes, triggers and the functions' full definitions, in a stable
 * order. A change to any of them shows in review as a diff of the snapshot file.
 */
import type { Knex } from "knex";
import { rowsOf } from "../../src/store/db.js";

async function lines(db: Knex, sql: string): Promise<string[]> {
  return rowsOf<{ line: string }>(await db.raw(sql)).map((r) => r.line);
}

export async function dumpSchema(db: Knex): Promise<string> {
  const tables = await lines(db, `select c.relname as line from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r' and c.relname <> 'clutch_luigi_migrations_lock' order by 1`);
  const out: string[] = [];
  for (const t of tables) {
    out.push(`table ${t}`);
    const q = t.replace(/'/g, "''");
    out.push(...(await lines(db, `select '  ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        || case when a.attnotnull then ' not null' else '' end
        || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') as line
      from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid = 'public.${q}'::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`)));
    out.push(...(await lines(db, `select '  constraint ' || conname || ' ' || pg_get_constraintdef(oid) as line
      from pg_constraint where conrelid = 'public.${q}'::regclass order by conname`)));
    out.push(...(await lines(db, `select '  ' || indexdef as line from pg_indexes where schemaname = 'public' and tablename = '${q}' order by indexname`)));
    out.push(...(await lines(db, `select '  ' || pg_get_triggerdef(oid) as line from pg_trigger
      where tgrelid = 'public.${q}'::regclass and not tgisinternal order by tgname`)));
  }
  out.push(...(await lines(db, `select pg_get_functiondef(p.oid) as line from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' order by p.proname, pg_get_function_identity_arguments(p.oid)`)));
  // Rows that are part of the design rather than data: the moves the transition trigger allows.
  out.push(...(await lines(db, "select 'step move ' || from_state || ' -> ' || to_state as line from cl_step_moves order by 1")));
  out.push(...(await lines(db, "select 'run move ' || from_state || ' -> ' || to_state as line from cl_run_moves order by 1")));
  return out.join("\n").replace(/[ \t]+$/gm, "") + "\n";
}
