/**
 * The engine's newest migrations go down to the functions they replaced and back up
 * to the same definitions: a deploy that must roll back the schema gets the engine it
 * had, not a mix.
 */
import { expect, it } from "vitest";
import { describeEngine } from "../engine/fixture.js";
import { rowsOf } from "../../../src/store/db.js";
import { MIGRATIONS } from "../../../src/store/migrate.js";

const NEWEST = ["022_success_groups", "021_promote_without_joins", "020_run_lock_late"];

describeEngine("the engine's newest migrations on $name", (env) => {
  const functions = async () =>
    rowsOf<{ name: string; def: string }>(
      await env.store.db.raw(
        `select p.proname as name, pg_get_functiondef(p.oid) as def from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = current_schema() and p.proname like 'cl\\_%' order by p.proname, pg_get_function_identity_arguments(p.oid)`,
      ),
    );
  const migration = (name: string) => MIGRATIONS.find(([n]) => n === name)![1];

  it("go down to the two-in-one report of 015 and 017, and up again to the same definitions", async () => {
    const before = await functions();
    for (const name of NEWEST) await migration(name).down(env.store.db);
    const down = new Set((await functions()).map((f) => f.name));
    expect(down.has("cl_report_events")).toBe(true);
    for (const gone of ["cl_end_attempt", "cl_run_after_attempt_events", "cl_run_after_successes_events", "cl_promote_within_events"]) {
      expect(down.has(gone), gone).toBe(false);
    }
    for (const name of [...NEWEST].reverse()) await migration(name).up(env.store.db);
    expect(await functions()).toEqual(before);
  });
});
