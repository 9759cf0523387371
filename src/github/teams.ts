/**
 * Members of the teams the authority files name. A team GitHub does not
 * know (404) is left out, so nobody can approve for it and the verdict says
 * so; a team too large to list in full blocks, since a veto could be missed.
 */
import { paginate, statusOf, type GitHubClient } from "./client.js";
import type { GatherProblem } from "./facts.js";

/** `org/team` keys → member logins. Teams are read together; problems come in the order of `keys`. */
export async function readTeams(gh: GitHubClient, keys: readonly string[], maxMembers: number, problems: GatherProblem[]): Promise<Record<string, string[]>> {
  const read = await Promise.all(
    keys.map(async (key) => {
      const [org, slug] = key.split("/") as [string, string];
      try {
        return await paginate<{ login: string }>(gh, "GET /orgs/{org}/teams/{team_slug}/members", { org, team_slug: slug }, { maxPages: Math.ceil(maxMembers / 100) });
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
        return null;
      }
    }),
  );
  const teams: Record<string, string[]> = {};
  keys.forEach((key, i) => {
    const members = read[i];
    if (!members) return;
    if (members.truncated) problems.push({ code: "team-too-large", message: `team @${key} has more than ${maxMembers} members; not all can be read` });
    teams[key] = members.items.map((m) => m.login);
  });
  return teams;
}
