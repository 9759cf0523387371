/**
 * The state machines of src/engine/states.ts as database rules: CHECK constraints
 * that admit only the known states, and the allowed moves as rows a trigger checks
 * each state change against. Generated from the TypeScript lists so the two cannot
 * disagree; a migration that changes the lists runs these statements again.
 */
import { ATTEMPT_OUTCOMES, ATTEMPT_PHASES, RUN_STATES, RUN_TRANSITIONS, STEP_STATES, STEP_TRANSITIONS } from "../engine/states.js";

const quoted = (xs: readonly string[]): string => xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(", ");

function movesValues(table: Readonly<Record<string, readonly string[]>>): string {
  return Object.entries(table)
    .flatMap(([from, tos]) => tos.map((to) => `(${quoted([from])}, ${quoted([to])})`))
    .join(", ");
}

/** Statements that (re)build the CHECK constraints and the transition tables; idempotent. */
export function stateRulesSql(): string[] {
  return [
    "alter table steps drop constraint if exists steps_state_known",
    `alter table steps add constraint steps_state_known check (state in (${quoted(STEP_STATES)}))`,
    "alter table runs drop constraint if exists runs_state_known",
    `alter table runs add constraint runs_state_known check (state in (${quoted(RUN_STATES)}))`,
    "alter table attempts drop constraint if exists attempts_phase_known",
    `alter table attempts add constraint attempts_phase_known check (phase in (${quoted(ATTEMPT_PHASES)}))`,
    "alter table attempts drop constraint if exists attempts_outcome_known",
    `alter table attempts add constraint attempts_outcome_known check (outcome in (${quoted(ATTEMPT_OUTCOMES)}))`,
    "create table if not exists cl_step_moves (from_state text not null, to_state text not null, primary key (from_state, to_state))",
    "create table if not exists cl_run_moves (from_state text not null, to_state text not null, primary key (from_state, to_state))",
    "delete from cl_step_moves",
    `insert into cl_step_moves (from_state, to_state) values ${movesValues(STEP_TRANSITIONS)}`,
    "delete from cl_run_moves",
    `insert into cl_run_moves (from_state, to_state) values ${movesValues(RUN_TRANSITIONS)}`,
  ];
}

/** The setting that turns the transition trigger on for a session (tests set it; see db.ts). */
export const CHECK_TRANSITIONS_SETTING = "clutch_luigi.check_transitions";
