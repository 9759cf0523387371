/**
 * GitHub Actions workflow runs. A dispatch creates a run that advances one state
 * per status read (queued → in_progress → completed) and concludes with the
 * conclusion set for its workflow, so tests see a real polling sequence.
 */
import type { FakeGitHub } from "./server.js";

export interface FakeRun {
  id: number;
  owner: string;
  repo: string;
  workflow: string;
  ref: string;
  inputs: Record<string, unknown>;
  status: "queued" | "in_progress" | "completed";
  conclusion: string | null;
  createdAt: string;
  reads: number;
}

export class FakeActions {
  readonly runs: FakeRun[] = [];
  /** Workflow file → conclusion its runs end with (default success). */
  readonly conclusions = new Map<string, string>();
  /** Workflow files that exist, per `owner/repo`. */
  readonly workflows = new Map<string, Set<string>>();
  /** Answer dispatches with 204 and no run details (as older GHES does). */
  legacyDispatch = false;
  /** Status reads a run spends in each non-final state. */
  readsPerState = 1;
  private nextId = 9_000_001;

  constructor(private readonly fake: FakeGitHub) {
    const notFound = { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
    fake.route("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", ({ params, body }) => {
      const owner = params.owner!;
      const repo = params.repo!;
      const workflow_id = params.workflow_id!;
      if (!this.workflows.get(`${owner}/${repo}`)?.has(workflow_id)) return notFound;
      const b = body as { ref: string; inputs?: Record<string, unknown>; return_run_details?: boolean };
      const run: FakeRun = {
        id: this.nextId++,
        owner,
        repo,
        workflow: workflow_id,
        ref: b.ref,
        inputs: b.inputs ?? {},
        status: "queued",
        conclusion: null,
        createdAt: new Date().toISOString(),
        reads: 0,
      };
      this.runs.push(run);
      if (this.legacyDispatch || !b.return_run_details) return { status: 204 };
      return {
        status: 200,
        body: { workflow_run_id: run.id, run_url: `${fake.url}/repos/${owner}/${repo}/actions/runs/${run.id}`, html_url: this.htmlUrl(run) },
      };
    });
    fake.route("GET /repos/{owner}/{repo}/actions/runs/{run_id}", ({ params }) => {
      const run = this.runs.find((r) => r.id === Number(params.run_id) && r.owner === params.owner && r.repo === params.repo);
      if (!run) return notFound;
      this.advance(run);
      return { status: 200, body: this.toApi(run) };
    });
    fake.route("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", ({ params, query }) => {
      const runs = this.runs
        .filter((r) => r.owner === params.owner && r.repo === params.repo && r.workflow === params.workflow_id)
        .filter((r) => !query.get("branch") || r.ref === query.get("branch"));
      return { status: 200, body: { total_count: runs.length, workflow_runs: runs.map((r) => this.toApi(r)) } };
    });
  }

  addWorkflow(repository: string, file: string, conclusion = "success"): void {
    let set = this.workflows.get(repository);
    if (!set) this.workflows.set(repository, (set = new Set()));
    set.add(file);
    this.conclusions.set(file, conclusion);
  }

  private advance(run: FakeRun): void {
    run.reads++;
    if (run.status === "completed") return;
    if (run.reads % this.readsPerState !== 0) return;
    if (run.status === "queued") run.status = "in_progress";
    else {
      run.status = "completed";
      run.conclusion = this.conclusions.get(run.workflow) ?? "success";
    }
  }

  private htmlUrl(run: FakeRun): string {
    return `https://github.com/${run.owner}/${run.repo}/actions/runs/${run.id}`;
  }

  private toApi(run: FakeRun): Record<string, unknown> {
    const api = this.fake.api;
    const repository = api.sample("minimal-repository", {
      name: run.repo,
      full_name: `${run.owner}/${run.repo}`,
      owner: api.sample("simple-user", { login: run.owner }),
    });
    return api.sample("workflow-run", {
      id: run.id,
      name: run.workflow,
      head_branch: run.ref,
      path: `.github/workflows/${run.workflow}`,
      event: "workflow_dispatch",
      status: run.status,
      conclusion: run.conclusion,
      html_url: this.htmlUrl(run),
      url: `${this.fake.url}/repos/${run.owner}/${run.repo}/actions/runs/${run.id}`,
      created_at: run.createdAt,
      updated_at: new Date().toISOString(),
      repository,
      head_repository: repository,
      pull_requests: [],
    });
  }
}
