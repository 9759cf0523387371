import { ActionError, type Action, type StepContext } from "../types.js";
import { githubError, githubOf, statusOf } from "./github-client.js";

export interface TeamMembershipInput {
  org: string;
  team: string;
  username: string;
  role?: "member" | "maintainer";
  /** `present` adds (default); `absent` removes — the end of a temporary grant. */
  state?: "present" | "absent";
}

export interface TeamMembershipOutput {
  state: "active" | "pending" | "absent";
  /** Membership before this step: rollback restores it and never removes access the user already had. */
  previousState: "active" | "pending" | "none";
  previousRole: string | null;
  changed: boolean;
}

const ROUTE = "/orgs/{org}/teams/{team_slug}/memberships/{username}";
const NAME = "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$";

async function current(input: TeamMembershipInput, ctx: StepContext): Promise<{ state: "active" | "pending" | "none"; role: string | null }> {
  try {
    const res = await (await githubOf(ctx)).request(`GET ${ROUTE}`, params(input, ctx));
    const data = res.data as { state?: string; role?: string };
    return { state: data.state === "pending" ? "pending" : "active", role: data.role ?? null };
  } catch (e) {
    if (statusOf(e) === 404) return { state: "none", role: null };
    throw githubError(e, `read membership of ${input.username} in ${input.org}/${input.team}`, ctx);
  }
}

function params(input: TeamMembershipInput, ctx: StepContext): Record<string, unknown> {
  return { org: input.org, team_slug: input.team, username: input.username, request: { signal: ctx.signal } };
}

async function add(input: TeamMembershipInput, role: string, ctx: StepContext): Promise<"active" | "pending"> {
  try {
    const res = await (await githubOf(ctx)).request(`PUT ${ROUTE}`, { ...params(input, ctx), role });
    return (res.data as { state?: string }).state === "pending" ? "pending" : "active";
  } catch (e) {
    throw githubError(e, `add ${input.username} to ${input.org}/${input.team}`, ctx);
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

export const githubTeamMembership: Action<TeamMembershipInput, TeamMembershipOutput> = {
  name: "github.team-membership",
  description: "Adds a user to a GitHub team (or removes them with state: absent). Rollback restores the previous membership.",
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
    },
  },
  output: {
    type: "object",
    additionalProperties: false,
    required: ["state", "previousState", "previousRole", "changed"],
    properties: {
      state: { enum: ["active", "pending", "absent"] },
      previousState: { enum: ["active", "pending", "none"] },
      previousRole: { type: ["string", "null"] },
      changed: { type: "boolean" },
    },
  },
  async run(input, ctx) {
    const before = await current(input, ctx);
    const role = input.role ?? "member";
    if ((input.state ?? "present") === "absent") {
      if (before.state !== "none") await remove(input, ctx);
      ctx.log.info(`${input.username} is not in ${input.org}/${input.team}`);
      return { state: "absent", previousState: before.state, previousRole: before.role, changed: before.state !== "none" };
    }
    if (before.state !== "none" && before.role === role) {
      return { state: before.state, previousState: before.state, previousRole: before.role, changed: false };
    }
    const state = await add(input, role, ctx);
    ctx.log.info(`${input.username} added to ${input.org}/${input.team} as ${role} (${state})`);
    return { state, previousState: before.state, previousRole: before.role, changed: true };
  },
  async rollback(input, output, ctx) {
    if (!output.changed) return;
    if (output.previousState === "none") return remove(input, ctx);
    if (!output.previousRole) throw new ActionError("invalid-input", "cannot restore a membership without its previous role");
    await add(input, output.previousRole, ctx);
  },
  async check(input, ctx) {
    const now = await current(input, ctx);
    if ((input.state ?? "present") === "absent") {
      return now.state === "none" ? { state: "absent", previousState: "none", previousRole: null, changed: false } : undefined;
    }
    if (now.state !== "none" && now.role === (input.role ?? "member")) {
      return { state: now.state, previousState: now.state, previousRole: now.role, changed: false };
    }
    return undefined;
  },
};
