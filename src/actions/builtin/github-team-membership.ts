/**
 * `github.team-membership`: grant, remove or restore a person's membership of a team.
 * Every change records the membership it found (none, member, maintainer): in a step
 * memo before the change (first write wins) and in the step's outputs, so the rollback
 * — or the end of a temporary grant, maybe on another worker after a crash — puts back
 * exactly that. A grant never lowers a role, and
 * access a person had before the run is never taken away by undoing the run.
 *
 * A pending invitation counts as the role it offers: it is never withdrawn or lowered
 * by a grant or its undo, and `state: pending` in the outputs says access is not live yet.
 */
import { ActionError, type Action, type StepContext } from "../types.js";
import { recallMemo, rememberMemo } from "../step-memo.js";
import { githubError, githubOf, statusOf } from "./github-client.js";

export type Membership = "none" | "member" | "maintainer";
/** What undoing a step puts back: the recorded membership, or nothing when the step changed nothing. */
export type Restore = Membership | "unchanged";

export interface TeamMembershipInput {
  org: string;
  team: string;
  username: string;
  role?: "member" | "maintainer";
  /** `present` grants (default); `absent` removes. */
  state?: "present" | "absent";
  /** Put back what a grant recorded: pass that step's `outputs.restore` (the end of a temporary grant). */
  restore?: Restore;
}

export interface TeamMembershipOutput {
  /** After this step. */
  state: "active" | "pending" | "absent";
  /** Before this step: what its rollback restores. */
  previous: Membership;
  previousState: "active" | "pending" | "none";
  changed: boolean;
  /** For a later `restore:` input: `unchanged` when this step changed nothing, else `previous`. */
  restore: Restore;
  /** What happened, in words (a grant that would lower a role says so here). */
  note: string;
}

interface Current {
  membership: Membership;
  state: "active" | "pending" | "none";
}

const ROUTE = "/orgs/{org}/teams/{team_slug}/memberships/{username}";
const NAME = "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$";
const LOWERS = "a grant never lowers a role";
const RANK: Record<Membership, number> = { none: 0, member: 1, maintainer: 2 };

function where(input: TeamMembershipInput): string {
  return `${input.username} in ${input.org}/${input.team}`;
}

function params(input: TeamMembershipInput, ctx: StepContext): Record<string, unknown> {
  return { org: input.org, team_slug: input.team, username: input.username, request: { signal: ctx.signal } };
}

async function current(input: TeamMembershipInput, ctx: StepContext): Promise<Current> {
  try {
    const res = await (await githubOf(ctx)).request(`GET ${ROUTE}`, params(input, ctx));
    const data = res.data as { state?: unknown; role?: unknown };
    // An unknown role is not trusted as either: a grant must not conclude "already maintainer" from it.
    if (data.role !== "member" && data.role !== "maintainer") {
      throw new ActionError("unexpected-response", `read membership of ${where(input)}: GitHub answered role ${JSON.stringify(data.role)}`);
    }
    return { membership: data.role, state: data.state === "pending" ? "pending" : "active" };
  } catch (e) {
    if (statusOf(e) === 404) return { membership: "none", state: "none" };
    throw githubError(e, `read membership of ${where(input)}`, ctx);
  }
}

async function put(input: TeamMembershipInput, role: "member" | "maintainer", ctx: StepContext): Promise<"active" | "pending"> {
  try {
    const res = await (await githubOf(ctx)).request(`PUT ${ROUTE}`, { ...params(input, ctx), role });
    return (res.data as { state?: string }).state === "pending" ? "pending" : "active";
  } catch (e) {
    throw githubError(e, `add ${input.username} to ${input.org}/${input.team} as ${role}`, ctx);
  }
}

async function remove(input: TeamMembershipInput, ctx: StepContext): Promise<void> {
  try {
    await (await githubOf(ctx)).request(`DELETE ${ROUTE}`, params(input, ctx));
  } catch (e) {
    if (statusOf(e) === 404) return; // already gone: the goal state holds
    throw githubError(e, `remove ${input.username} from ${input.org}/${input.team}`, ctx);
  }
}

/** Set the membership to exactly `target`; returns the state after. */
async function setTo(input: TeamMembershipInput, target: Membership, ctx: StepContext): Promise<"active" | "pending" | "absent"> {
  if (target === "none") {
    await remove(input, ctx);
    return "absent";
  }
  return put(input, target, ctx);
}

/** Outputs for a step whose goal holds at `now`, measured against what it found at first (`before`). */
function outcome(before: Current, now: Current, note: string): TeamMembershipOutput {
  const changed = before.membership !== now.membership;
  return { state: now.state === "none" ? "absent" : now.state, previous: before.membership, previousState: before.state, changed, restore: changed ? before.membership : "unchanged", note };
}

function changed(before: Current, state: TeamMembershipOutput["state"], note: string): TeamMembershipOutput {
  return { state, previous: before.membership, previousState: before.state, changed: true, restore: before.membership, note };
}

/**
 * The step's goal already holds at `now` (then the outputs that say so), or undefined.
 * `before` is what an earlier attempt found before its first change (the step memo):
 * a goal that holds because that attempt reached GitHub still counts as this step's change.
 */
function alreadyDone(input: TeamMembershipInput, now: Current, before: Current = now): TeamMembershipOutput | undefined {
  const earlier = before.membership !== now.membership ? ` (changed by an earlier attempt; was ${before.membership})` : "";
  if (input.restore !== undefined) {
    if (input.restore === "unchanged") return outcome(before, before, `the grant changed nothing, so nothing is restored for ${where(input)}`);
    return now.membership === input.restore ? outcome(before, now, `${where(input)} is ${input.restore}${earlier}`) : undefined;
  }
  if ((input.state ?? "present") === "absent") {
    return now.membership === "none" ? outcome(before, now, `${input.username} is not in ${input.org}/${input.team}${earlier}`) : undefined;
  }
  const role = input.role ?? "member";
  // A role above the one asked for was never this step's doing, whatever it found before: never undone.
  if (RANK[now.membership] > RANK[role]) return outcome(now, now, `${where(input)} is already ${now.membership}: ${LOWERS}, nothing changed`);
  if (now.membership === role) return outcome(before, now, `${where(input)} is ${role}${now.state === "pending" ? " (invitation pending)" : ""}${earlier}`);
  return undefined;
}

/** The membership an earlier attempt of this step recorded before its first change, if any. */
async function recorded(input: TeamMembershipInput, ctx: StepContext, value?: Current): Promise<Current | undefined> {
  const memo = value === undefined ? await recallMemo(ctx) : await rememberMemo(ctx, value);
  if (memo === undefined || memo === null) return undefined;
  const m = memo as Partial<Current>;
  if (typeof m.membership !== "string" || !Object.hasOwn(RANK, m.membership) || !["active", "pending", "none"].includes(String(m.state))) {
    throw new ActionError("invalid-input", `the recorded previous membership of ${where(input)} is malformed`);
  }
  return { membership: m.membership as Membership, state: m.state as Current["state"] };
}

/** A step that changes nothing still says why; refusing to lower a role is a warning. */
function say(out: TeamMembershipOutput, ctx: StepContext): TeamMembershipOutput {
  (out.note.includes(LOWERS) ? ctx.log.warn : ctx.log.info)(out.note);
  return out;
}

/** The recorded membership; outputs stored before `previous` existed said it as previousState + previousRole. */
function previousOf(output: TeamMembershipOutput): Membership | undefined {
  const legacy = output as Partial<TeamMembershipOutput> & { previousRole?: unknown };
  const recorded = legacy.previous ?? (legacy.previousState === "none" ? "none" : legacy.previousRole);
  return typeof recorded === "string" && Object.hasOwn(RANK, recorded) ? (recorded as Membership) : undefined;
}

export const githubTeamMembership: Action<TeamMembershipInput, TeamMembershipOutput> = {
  name: "github.team-membership",
  description:
    "Grants a GitHub team membership (never lowering a role), removes it (state: absent), or restores what a grant recorded (restore:). Records the membership before; rollback puts exactly that back.",
  input: {
    type: "object",
    additionalProperties: false,
    required: ["org", "team", "username"],
    properties: {
      org: { type: "string", pattern: NAME },
      team: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]*$", maxLength: 100 },
      username: { type: "string", pattern: NAME },
      role: { enum: ["member", "maintainer"] },
      state: { enum: ["present", "absent"] },
      restore: { enum: ["unchanged", "none", "member", "maintainer"] },
    },
    // A restore sets exactly what was recorded: a role or state beside it would be a second opinion.
    not: { anyOf: [{ required: ["restore", "role"] }, { required: ["restore", "state"] }] },
  },
  output: {
    type: "object",
    additionalProperties: false,
    required: ["state", "previous", "previousState", "changed", "restore", "note"],
    properties: {
      state: { enum: ["active", "pending", "absent"] },
      previous: { enum: ["none", "member", "maintainer"] },
      previousState: { enum: ["active", "pending", "none"] },
      changed: { type: "boolean" },
      restore: { enum: ["unchanged", "none", "member", "maintainer"] },
      note: { type: "string" },
    },
  },
  errorCodes: ["unexpected-response"],
  async run(input, ctx) {
    const now = await current(input, ctx);
    const done = alreadyDone(input, now, (await recorded(input, ctx)) ?? now);
    if (done) return say(done, ctx);
    // Written before the change and never overwritten: what every later attempt restores to.
    const before = (await recorded(input, ctx, now)) ?? now;
    let out: TeamMembershipOutput;
    if (input.restore !== undefined && input.restore !== "unchanged") {
      out = changed(before, await setTo(input, input.restore, ctx), `${where(input)} restored to ${input.restore} (was ${before.membership})`);
    } else if ((input.state ?? "present") === "absent") {
      await remove(input, ctx);
      out = changed(before, "absent", `${input.username} removed from ${input.org}/${input.team} (was ${before.membership})`);
    } else {
      const role = input.role ?? "member";
      const state = await put(input, role, ctx);
      out = changed(before, state, `${where(input)} is now ${role} (${state}; was ${before.membership})`);
    }
    ctx.log.info(out.note);
    return out;
  },
  async rollback(input, output, ctx) {
    // Ending access is never undone: a failed run after a restore must not grant again.
    if (input.restore !== undefined || !output.changed) return;
    const target = previousOf(output);
    if (!target) throw new ActionError("invalid-input", `cannot restore ${where(input)}: the step recorded no previous membership`);
    const now = await current(input, ctx);
    if (now.membership === target) return;
    await setTo(input, target, ctx);
    ctx.log.info(`${where(input)} restored to ${target}`);
  },
  async check(input, ctx) {
    const now = await current(input, ctx);
    const done = alreadyDone(input, now, (await recorded(input, ctx)) ?? now);
    // Skipped means "nothing for this step to do, nor to undo". A goal that holds because an
    // earlier attempt of this step reached GitHub is this step's change: run() reports it as
    // such, so the step succeeds and its rollback (or an expiry) undoes it.
    if (done?.changed) return undefined;
    return done && say(done, ctx);
  },
};
