/**
 * Issue comments on pull requests: posted, edited and listed as GitHub does (oldest
 * first, paginated), with the author taken from whoever the test says is posting.
 */
import { pageOf } from "./paging.js";
import type { FakeGitHub } from "./server.js";

export interface FakeComment {
  id: number;
  owner: string;
  repo: string;
  issueNumber: number;
  body: string;
  author: string;
  edits: number;
}

export class FakeComments {
  readonly comments: FakeComment[] = [];
  /** The login that posts the next comments (the app's bot unless a test says otherwise). */
  poster = "clutch-luigi[bot]";
  private nextId = 7_000_001;

  constructor(private readonly fake: FakeGitHub) {
    fake.route("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", ({ params, body }) => {
      const text = (body as { body?: string }).body ?? "";
      if (text.length > 65_536) return { status: 422, body: { message: "Validation Failed", errors: [{ resource: "IssueComment", code: "custom", field: "body", message: "body is too long (maximum is 65536 characters)" }] } };
      const c: FakeComment = { id: this.nextId++, owner: params.owner!, repo: params.repo!, issueNumber: Number(params.issue_number), body: text, author: this.poster, edits: 0 };
      this.comments.push(c);
      return { status: 201, body: this.toApi(c) };
    });
    fake.route("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", ({ params, body }) => {
      const c = this.comments.find((x) => x.id === Number(params.comment_id) && this.same(x, params.owner!, params.repo!));
      if (!c) return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
      c.body = (body as { body?: string }).body ?? c.body;
      c.edits++;
      return { status: 200, body: this.toApi(c) };
    });
    fake.route("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", ({ params, query }) => {
      const all = this.comments.filter((c) => this.same(c, params.owner!, params.repo!) && c.issueNumber === Number(params.issue_number));
      return { status: 200, body: pageOf(all, query).map((c) => this.toApi(c)) };
    });
  }

  /** Comments on one pull request, oldest first. */
  on(repository: string, issueNumber: number): FakeComment[] {
    const [owner, repo] = repository.split("/");
    return this.comments.filter((c) => this.same(c, owner!, repo!) && c.issueNumber === issueNumber);
  }

  private same(c: FakeComment, owner: string, repo: string): boolean {
    return c.owner.toLowerCase() === owner.toLowerCase() && c.repo.toLowerCase() === repo.toLowerCase();
  }

  private toApi(c: FakeComment): Record<string, unknown> {
    const html = `https://github.com/${c.owner}/${c.repo}/pull/${c.issueNumber}#issuecomment-${c.id}`;
    return this.fake.api.sample("issue-comment", {
      id: c.id,
      body: c.body,
      html_url: html,
      url: `${this.fake.url}/repos/${c.owner}/${c.repo}/issues/comments/${c.id}`,
      issue_url: `${this.fake.url}/repos/${c.owner}/${c.repo}/issues/${c.issueNumber}`,
      user: this.fake.api.sample("simple-user", { login: c.author, type: c.author.endsWith("[bot]") ? "Bot" : "User" }),
    });
  }
}
