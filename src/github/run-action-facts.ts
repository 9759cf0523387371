/**
 * What deciding a click on the run check needs, read afresh from GitHub: CODEOWNERS
 * and the policy file at the default branch head (never a PR's), and whether the
 * clicker is an active member of the teams those name for the request file or as
 * operators. The decision itself is the pure `decideRunAction`.
 */
import { mergeConfig, type Actor } from "../policy/index.js";
import { teamsToCheck, type RunActionFacts } from "../policy/run-actions.js";
import { requestOrNull, type GitHubClient } from "./client.js";
import { readCodeowners, readPolicyConfigs } from "./authority.js";
import type { GatherProblem } from "./facts.js";

/** Membership lookups per click at most: a policy naming more operator teams is read this far. */
export const MAX_TEAMS_CHECKED = 30;

/** A plain GitHub login: the only kind worth asking team memberships for (bots are refused anyway). */
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

export interface RunActionTarget {
  owner: string;
  repo: string;
  /** The PR the run came from: its base repository names the default branch. */
  pullRequest: number;
  requestPath: string;
}

/** GitHub could not tell us what the default branch holds: no decision can be made. */
export class RunActionGatherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunActionGatherError";
  }
}

export interface GatheredRunAction {
  facts: RunActionFacts;
  /** The default branch head the authority was read at, for the audit row. */
  authoritySha: string;
}

async function defaultBranchHead(gh: GitHubClient, t: RunActionTarget): Promise<string> {
  const pull = await requestOrNull<{ base: { ref: string; repo: { default_branch?: string } | null } }>(gh, "GET /repos/{owner}/{repo}/pulls/{pull_number}", {
    owner: t.owner,
    repo: t.repo,
    pull_number: t.pullRequest,
  });
  if (!pull) throw new RunActionGatherError(`pull request #${t.pullRequest} is not found, so the default branch is unknown`);
  const branch = pull.base.repo?.default_branch ?? pull.base.ref;
  const ref = await requestOrNull<{ object: { sha: string } }>(gh, "GET /repos/{owner}/{repo}/git/ref/{ref}", { owner: t.owner, repo: t.repo, ref: `heads/${branch}` });
  if (!ref) throw new RunActionGatherError(`the default branch ${branch} does not exist`);
  return ref.object.sha;
}

async function isActiveMember(gh: GitHubClient, team: string, login: string): Promise<boolean> {
  const [org, slug] = team.split("/") as [string, string];
  const m = await requestOrNull<{ state?: string }>(gh, "GET /orgs/{org}/teams/{team_slug}/memberships/{username}", { org, team_slug: slug, username: login });
  // A pending invitation is not membership.
  return m?.state === "active";
}

export async function gatherRunActionFacts(gh: GitHubClient, t: RunActionTarget, clicker: Actor): Promise<GatheredRunAction> {
  const at = { owner: t.owner, repo: t.repo };
  const sha = await defaultBranchHead(gh, t);
  const problems: GatherProblem[] = [];
  const { codeowners } = await readCodeowners(gh, at, sha, problems);
  const { repoConfig, orgConfig } = await readPolicyConfigs(gh, at, sha, problems);
  const unreadable = problems.find((p) => p.code === "config-unreadable");
  const base: Omit<RunActionFacts, "clickerTeams"> = {
    clicker,
    requestPath: t.requestPath,
    codeowners,
    config: mergeConfig(orgConfig, repoConfig),
    ...(unreadable ? { configUnreadable: unreadable.message } : {}),
  };
  const clickerTeams: string[] = [];
  if (LOGIN.test(clicker.login) && clicker.type === "User" && !unreadable) {
    for (const team of teamsToCheck(base).slice(0, MAX_TEAMS_CHECKED)) {
      if (await isActiveMember(gh, team, clicker.login)) clickerTeams.push(team);
    }
  }
  return { facts: { ...base, clickerTeams }, authoritySha: sha };
}
