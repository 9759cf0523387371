/** Listing a team's members, over the memberships kept by FakeTeams. Pending invitations are not members yet. */
import { pageOf } from "./paging.js";
import type { FakeGitHub } from "./server.js";
import type { FakeTeams } from "./teams.js";

export function serveTeamMembers(fake: FakeGitHub, teams: FakeTeams): void {
  fake.route("GET /orgs/{org}/teams/{team_slug}/members", ({ params, query }) => {
    const team = teams.members.get(`${params.org}/${params.team_slug}`.toLowerCase());
    if (!team) return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
    const logins = [...team.entries()].filter(([, m]) => m.state === "active").map(([login]) => login).sort();
    const body = pageOf(logins, query).map((login) => fake.api.sample("simple-user", { login, type: "User", html_url: `https://github.com/${login}` }));
    return { status: 200, body };
  });
}
