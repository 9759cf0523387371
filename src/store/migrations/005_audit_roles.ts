/**
 * The audit trail against the app's own database role. Migrations run as an owner
 * role; the server and workers connect as a login role that is a member of
 * `clutch_luigi_runtime`. That group may read and write the engine's tables but may
 * only read `audit_events` and `audit_head`: rows reach the chain through
 * `cl_audit`, which runs as its owner (SECURITY DEFINER, search_path pinned) and
 * alone computes seq, prev_hash and hash. Not owning the table, the runtime role can
 * neither disable nor drop its triggers, and TRUNCATE — which row triggers never
 * see — is refused by a statement trigger even for the owner.
 *
 * The role split exists on a real Postgres server only. PGlite is one process with
 * one (superuser) user, so there it gets the function and trigger hardening and no
 * grants. Without CREATEROLE the group cannot be made here: create it first
 * (docs/deploy.md "Database roles") or the database stays single-role.
 */
import type { Knex } from "knex";

export const RUNTIME_ROLE = "clutch_luigi_runtime";

/**
 * cl_audit's refusals, before it takes the chain head: what a caller may not ask it to
 * append. Shared with migration 015's cl_audit, which appends the same rows faster.
 */
export const AUDIT_CHECKS = `     if events is null then return; end if;
     if jsonb_typeof(events) <> 'array' then
       raise exception 'cl_audit takes a JSON array of events' using errcode = '22023';
     end if;
     n := jsonb_array_length(events);
     if n = 0 then return; end if;
     -- The chain computes seq, at and the hashes itself; a caller naming any of them
     -- is trying to write a row it chose, so the whole append is refused.
     for e in select value from jsonb_array_elements(events) loop
       if jsonb_typeof(e) <> 'object' then
         raise exception 'cl_audit: every event is a JSON object' using errcode = '22023';
       end if;
       select k into extra from jsonb_object_keys(e) k
         where k not in ('kind', 'run_id', 'step_id', 'actor', 'data') limit 1;
       if extra is not null then
         raise exception 'cl_audit: "%" is not the caller''s to set (only kind, run_id, step_id, actor, data)', extra
           using errcode = '42501';
       end if;
       if jsonb_typeof(e->'kind') is distinct from 'string' or jsonb_typeof(e->'actor') is distinct from 'string' then
         raise exception 'cl_audit: kind and actor are required strings' using errcode = '22023';
       end if;
       if e->'data' is not null and jsonb_typeof(e->'data') not in ('object', 'null') then
         raise exception 'cl_audit: data is a JSON object' using errcode = '22023';
       end if;
     end loop;
`;

/** cl_audit as this migration wrote it; migration 015 replaces it and restores it on down(). */
export const AUDIT_FUNCTION = (schema: string): string => `create or replace function cl_audit(events jsonb) returns void
   language plpgsql security definer set search_path = pg_catalog, ${schema} as $$
   declare
     n integer;
     s bigint;
     prev text;
     cur text;
     b text;
     t timestamptz := clock_timestamp();
     e jsonb;
     extra text;
   begin
${AUDIT_CHECKS}     -- The row lock on the head serializes appenders until commit: one chain, no forks.
     update audit_head set seq = seq + n where id = 1 returning seq - n, hash into s, prev;
     for e in select value from jsonb_array_elements(events) loop
       s := s + 1;
       b := jsonb_build_object(
         'seq', s,
         'at', to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
         'kind', e->>'kind',
         'run_id', e->'run_id',
         'step_id', e->'step_id',
         'actor', e->>'actor',
         'data', coalesce(nullif(e->'data', 'null'::jsonb), '{}'::jsonb))::text;
       cur := encode(sha256(convert_to(prev || E'\\n' || b, 'UTF8')), 'hex');
       insert into audit_events (seq, at, kind, run_id, step_id, actor, data, prev_hash, hash, body)
       values (s, t, e->>'kind', (e->>'run_id')::uuid, e->>'step_id', e->>'actor',
               coalesce(nullif(e->'data', 'null'::jsonb), '{}'::jsonb), prev, cur, b);
       prev := cur;
     end loop;
     update audit_head set hash = prev where id = 1;
   end $$`;

const TRIGGERS: string[] = [
  `create function audit_no_truncate() returns trigger language plpgsql as $$
   begin
     raise exception '% is append-only: TRUNCATE is refused', tg_table_name using errcode = '42501';
   end $$`,
  `create trigger audit_events_no_truncate before truncate on audit_events
     for each statement execute function audit_no_truncate()`,
  `create trigger audit_head_no_truncate before truncate on audit_head
     for each statement execute function audit_no_truncate()`,
];

/** Grants for the runtime group, in `schema`; `q` is the quoted schema name. */
function grants(q: string): string[] {
  const r = RUNTIME_ROLE;
  return [
    `revoke all on schema ${q} from ${r}`,
    `grant usage on schema ${q} to ${r}`,
    `grant select, insert, update, delete on all tables in schema ${q} to ${r}`,
    `grant usage, select on all sequences in schema ${q} to ${r}`,
    `grant execute on all functions in schema ${q} to ${r}`,
    // The chain: read only; appended to through cl_audit alone.
    `revoke all on audit_events, audit_head from public, ${r}`,
    `grant select on audit_events, audit_head to ${r}`,
    `revoke execute on function cl_audit(jsonb) from public`,
    `grant execute on function cl_audit(jsonb) to ${r}`,
    // Migration bookkeeping: the runtime role may see what is applied, never record it.
    `revoke all on clutch_luigi_migrations, clutch_luigi_migrations_lock from ${r}`,
    `grant select on clutch_luigi_migrations, clutch_luigi_migrations_lock to ${r}`,
    // Tables later migrations add (as the same owner) are the engine's to use.
    `alter default privileges in schema ${q} grant select, insert, update, delete on tables to ${r}`,
    `alter default privileges in schema ${q} grant usage, select on sequences to ${r}`,
    `alter default privileges in schema ${q} grant execute on functions to ${r}`,
  ];
}

function isRealPostgres(knex: Knex): boolean {
  return (knex.client as { config?: { client?: unknown } }).config?.client === "pg";
}

/** The first row of a raw result on either driver (pg answers `{ rows }`, PGlite may answer the rows). */
async function firstRow<T>(knex: Knex, sql: string, bindings: Knex.RawBinding[] = []): Promise<T> {
  const r = (await knex.raw(sql, bindings)) as T[] | { rows: T[] };
  return (Array.isArray(r) ? r : r.rows)[0]!;
}

export async function quotedSchema(knex: Knex): Promise<string> {
  return (await firstRow<{ q: string }>(knex, "select quote_ident(current_schema()) as q")).q;
}

async function roleExists(knex: Knex): Promise<boolean> {
  return (await firstRow<{ e: boolean }>(knex, "select exists (select from pg_roles where rolname = ?) as e", [RUNTIME_ROLE])).e;
}

/** Makes the group if it is missing and this role may; true when it exists afterwards. */
async function ensureRuntimeRole(knex: Knex): Promise<boolean> {
  await knex.raw(`do $$
    begin
      if not exists (select from pg_roles where rolname = '${RUNTIME_ROLE}')
         and exists (select from pg_roles where rolname = current_user and (rolsuper or rolcreaterole)) then
        begin
          create role ${RUNTIME_ROLE} nologin;
        exception when duplicate_object or unique_violation then
          null; -- made by a concurrent migration of another database on this server
        end;
      end if;
    end $$`);
  return roleExists(knex);
}

export async function up(knex: Knex): Promise<void> {
  const schema = await quotedSchema(knex);
  await knex.raw(AUDIT_FUNCTION(schema));
  for (const sql of TRIGGERS) await knex.raw(sql);
  if (!isRealPostgres(knex)) return;
  if (!(await ensureRuntimeRole(knex))) return;
  for (const sql of grants(schema)) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("drop trigger if exists audit_events_no_truncate on audit_events");
  await knex.raw("drop trigger if exists audit_head_no_truncate on audit_head");
  await knex.raw("drop function if exists audit_no_truncate()");
  await knex.raw("alter function cl_audit(jsonb) security invoker reset search_path");
  if (isRealPostgres(knex)) {
    if (await roleExists(knex)) {
      const q = await quotedSchema(knex);
      await knex.raw(`alter default privileges in schema ${q} revoke all on tables from ${RUNTIME_ROLE}`);
      await knex.raw(`alter default privileges in schema ${q} revoke all on sequences from ${RUNTIME_ROLE}`);
      await knex.raw(`alter default privileges in schema ${q} revoke all on functions from ${RUNTIME_ROLE}`);
      await knex.raw(`revoke all on all tables in schema ${q} from ${RUNTIME_ROLE}`);
      await knex.raw(`revoke all on all sequences in schema ${q} from ${RUNTIME_ROLE}`);
      await knex.raw(`revoke all on all functions in schema ${q} from ${RUNTIME_ROLE}`);
      await knex.raw(`revoke all on schema ${q} from ${RUNTIME_ROLE}`);
    }
  }
}
