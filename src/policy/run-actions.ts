/**
 * Who may act on a run from its check (Retry failed steps, Roll back, Cancel run,
 * Revoke now, Record follow-up): a code owner of the request file by CODEOWNERS at the
 * default branch head, or an operator (`operators:` in `.github/clutch-luigi.yml`);
 * never a bot or machine user. The requester may also revoke their own time-bound
 * change; a break-glass follow-up comes from a code owner other than the requester.
 * Pure over what the GitHub adapter gathered, so every refusal is a table row.
 */
import { compileCodeowners } from "./codeowners.js";
import { loadPolicyConfig } from "./config.js";
import type { Actor } from "./facts.js";
import { isBotActor, loginKey } from "./reviews.js";

export const RUN_ACTIONS = ["retry", "rollback", "cancel", "revoke", "follow-up"] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

export function isRunAction(v: unknown): v is RunAction {
  return typeof v === "string" && (RUN_ACTIONS as readonly string[]).includes(v);
}

export interface RunActionFacts {
  /** Who clicked, as GitHub says (the delivery's sender). */
  clicker: Actor;
  /** The run's request file. */
  requestPath: string;
  /** CODEOWNERS at the default branch head; null when there is none (or GitHub would ignore it). */
  codeowners: string | null;
  /** `.github/clutch-luigi.yml` (merged over the organisation's defaults) at the default branch head. */
  config: unknown;
  /** Set when the policy file could not be read (too large, not YAML): treated like an invalid one. */
  configUnreadable?: string;
  /** Teams (`org/team`, any case) the clicker is an active member of, among those CODEOWNERS and `operators` name. */
  clickerTeams: readonly string[];
  /** Who asked for the run: they may revoke their own time-bound change, and never follow up their own break-glass run. */
  requester?: string;
}

export type RunActionRefusalCode = "bot" | "not-a-user" | "config-invalid" | "not-authorized" | "own-run";

export type RunActionDecision =
  | { allowed: true; as: "codeowner" | "operator" | "requester"; via: string }
  | { allowed: false; code: RunActionRefusalCode; reason: string };

/** `@org/team` → `org/team`, lower-cased; null for a user or an e-mail owner. */
export function teamOf(owner: string): string | null {
  return owner.startsWith("@") && owner.includes("/") ? owner.slice(1).toLowerCase() : null;
}

/** Teams the decision may need the clicker's membership of: the request file's owners and the operators. */
export function teamsToCheck(facts: Omit<RunActionFacts, "clickerTeams" | "clicker">): string[] {
  const out = new Set<string>();
  for (const o of ownersOf(facts.codeowners, facts.requestPath)) {
    const t = teamOf(o);
    if (t) out.add(t);
  }
  const c = loadPolicyConfig(facts.config);
  if (c.ok) {
    for (const o of c.config.operators) {
      const t = teamOf(o);
      if (t) out.add(t);
    }
  }
  return [...out].sort();
}

function ownersOf(codeowners: string | null, path: string): string[] {
  return codeowners === null ? [] : compileCodeowners(codeowners).match(path).owners;
}

function grants(owners: readonly string[], clicker: string, teams: ReadonlySet<string>): string | null {
  for (const o of owners) {
    const t = teamOf(o);
    if (t ? teams.has(t) : o.startsWith("@") && loginKey(o.slice(1)) === clicker) return o;
  }
  // E-mail owners cannot be matched to a login without the verified e-mails, so they grant nothing here.
  return null;
}

export function decideRunAction(action: RunAction, facts: RunActionFacts): RunActionDecision {
  const label = { retry: "retry", rollback: "roll back", cancel: "cancel", revoke: "revoke", "follow-up": "follow up" }[action];
  if (facts.configUnreadable !== undefined) {
    return { allowed: false, code: "config-invalid", reason: `the policy file cannot be read (${facts.configUnreadable}), so nobody may ${label} runs until it is fixed` };
  }
  const c = loadPolicyConfig(facts.config);
  // An unreadable policy might have named this login a machine user: refuse rather than guess.
  if (!c.ok) return { allowed: false, code: "config-invalid", reason: `the policy file is invalid (${c.errors[0] ?? "?"}), so nobody may ${label} runs until it is fixed` };
  if (isBotActor(facts.clicker, c.config.machineUsers)) {
    return { allowed: false, code: "bot", reason: `${facts.clicker.login} is a bot or machine user; bots never ${label} runs` };
  }
  if (facts.clicker.type !== "User") {
    return { allowed: false, code: "not-a-user", reason: `${facts.clicker.login} is a ${facts.clicker.type} account; only people (User accounts) ${label} runs` };
  }
  const clicker = loginKey(facts.clicker.login);
  const teams = new Set(facts.clickerTeams.map((t) => t.toLowerCase()));
  const isRequester = facts.requester !== undefined && loginKey(facts.requester) === clicker;
  // A break-glass run is followed up by someone else: a code owner, and never its requester.
  if (action === "follow-up" && isRequester) {
    return { allowed: false, code: "own-run", reason: `${facts.clicker.login} asked for this break-glass run; its follow-up must come from another code owner of ${facts.requestPath}` };
  }
  const owner = grants(ownersOf(facts.codeowners, facts.requestPath), clicker, teams);
  if (owner) return { allowed: true, as: "codeowner", via: owner };
  if (action === "follow-up") {
    return { allowed: false, code: "not-authorized", reason: `${facts.clicker.login} is not a code owner of ${facts.requestPath} (CODEOWNERS at the default branch head); only a code owner follows up a break-glass run` };
  }
  // Ending your own temporary access early needs no one else's authority.
  if (action === "revoke" && isRequester) return { allowed: true, as: "requester", via: `@${facts.clicker.login}` };
  const operator = grants(c.config.operators, clicker, teams);
  if (operator) return { allowed: true, as: "operator", via: operator };
  return {
    allowed: false,
    code: "not-authorized",
    reason: `${facts.clicker.login} is neither a code owner of ${facts.requestPath} (CODEOWNERS at the default branch head) nor an operator (operators: in .github/clutch-luigi.yml)`,
  };
}
