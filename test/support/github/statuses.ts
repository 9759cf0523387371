/**
 * Commit statuses: created per commit, listed newest first as GitHub lists them,
 * with the creator taken from whoever the test says is posting (GitHub takes it
 * from the token; the fake does not model tokens).
 */
import { pageOf } from "./paging.js";
import type { FakeGitHub } from "./server.js";

export interface FakeStatus {
  id: number;
  owner: string;
  repo: string;
  sha: string;
  state: string;
  context: string;
  description: string | null;
  targetUrl: string | null;
  creator: string;
  createdAt: string;
}

interface StatusBody {
  state?: string;
  context?: string;
  description?: string | null;
  target_url?: string | null;
}

export class FakeStatuses {
  readonly statuses: FakeStatus[] = [];
  /** The login that posts the next statuses (the app's bot unless a test says otherwise). */
  poster = "clutch-luigi[bot]";
  private nextId = 9_000_001;
  private clock = Date.parse("2026-12-01T00:00:00Z");

  constructor(private readonly fake: FakeGitHub) {
    fake.route("POST /repos/{owner}/{repo}/statuses/{sha}", ({ params, body }) => {
      const b = body as StatusBody;
      if (b.description && b.description.length > 140) {
        return { status: 422, body: { message: "Validation Failed", errors: [{ resource: "Status", field: "description", code: "custom", message: "description is too long (maximum is 140 characters)" }] } };
      }
      const s: FakeStatus = {
        id: this.nextId++,
        owner: params.owner!,
        repo: params.repo!,
        sha: params.sha!,
        state: b.state!,
        context: b.context ?? "default",
        description: b.description ?? null,
        targetUrl: b.target_url ?? null,
        creator: this.poster,
        createdAt: new Date((this.clock += 1000)).toISOString().replace(/\.\d{3}Z$/, "Z"),
      };
      this.statuses.push(s);
      return { status: 201, body: this.toApi(s) };
    });
    fake.route("GET /repos/{owner}/{repo}/commits/{ref}/statuses", ({ params, query }) => {
      const all = this.statuses
        .filter((s) => s.owner.toLowerCase() === params.owner!.toLowerCase() && s.repo.toLowerCase() === params.repo!.toLowerCase() && s.sha === params.ref)
        .reverse();
      return { status: 200, body: pageOf(all, query).map((s) => this.toApi(s)) };
    });
  }

  private toApi(s: FakeStatus): Record<string, unknown> {
    const html = s.creator.endsWith("[bot]") ? `https://github.com/apps/${s.creator.slice(0, -5)}` : `https://github.com/${s.creator}`;
    return {
      url: `${this.fake.url}/repos/${s.owner}/${s.repo}/statuses/${s.sha}`,
      avatar_url: null,
      id: s.id,
      node_id: `SC_${s.id}`,
      state: s.state,
      description: s.description,
      target_url: s.targetUrl,
      context: s.context,
      created_at: s.createdAt,
      updated_at: s.createdAt,
      creator: this.fake.api.sample("simple-user", { login: s.creator, type: s.creator.endsWith("[bot]") ? "Bot" : "User", html_url: html }),
    };
  }
}
