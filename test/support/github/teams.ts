/** Team memberships: `org/team` → username → { role, state }. */
import type { FakeGitHub } from "./server.js";

export interface TeamMember {
  role: "member" | "maintainer";
  state: "active" | "pending";
}

export class FakeTeams {
  readonly members = new Map<string, Map<string, TeamMember>>();

  constructor(private readonly fake: FakeGitHub) {
    const notFound = { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
    const url = (org: string, team: string, user: string): string => `${fake.url}/orgs/${org}/teams/${team}/memberships/${user}`;
    fake.route("GET /orgs/{org}/teams/{team_slug}/memberships/{username}", ({ params }) => {
      const m = this.team(params.org!, params.team_slug!, false)?.get(params.username!);
      if (!m) return notFound;
      return { status: 200, body: { url: url(params.org!, params.team_slug!, params.username!), role: m.role, state: m.state } };
    });
    fake.route("PUT /orgs/{org}/teams/{team_slug}/memberships/{username}", ({ params, body }) => {
      const team = this.team(params.org!, params.team_slug!, false);
      if (!team) return notFound;
      const role = ((body as { role?: string } | undefined)?.role ?? "member") as TeamMember["role"];
      const prev = team.get(params.username!);
      const m: TeamMember = { role, state: prev?.state ?? "active" };
      team.set(params.username!, m);
      return { status: 200, body: { url: url(params.org!, params.team_slug!, params.username!), role: m.role, state: m.state } };
    });
    fake.route("DELETE /orgs/{org}/teams/{team_slug}/memberships/{username}", ({ params }) => {
      const team = this.team(params.org!, params.team_slug!, false);
      if (!team?.delete(params.username!)) return notFound;
      return { status: 204 };
    });
  }

  /** Create a team (with optional members) so the API can find it. */
  add(org: string, slug: string, members: Record<string, TeamMember["role"]> = {}): void {
    const team = this.team(org, slug, true)!;
    for (const [u, role] of Object.entries(members)) team.set(u, { role, state: "active" });
  }

  memberOf(org: string, slug: string, user: string): TeamMember | undefined {
    return this.team(org, slug, false)?.get(user);
  }

  private team(org: string, slug: string, create: boolean): Map<string, TeamMember> | undefined {
    const key = `${org}/${slug}`.toLowerCase();
    let t = this.members.get(key);
    if (!t && create) {
      t = new Map();
      this.members.set(key, t);
    }
    return t;
  }
}
