/**
 * Check runs: created and updated as GitHub does, annotations appended across
 * updates, and GitHub's own limits enforced: 50 annotations per call, and a
 * completed check run keeps its status and conclusion (only a new run with the
 * same name can show another).
 */
import { pageOf } from "./paging.js";
import type { FakeGitHub, FakeResponse } from "./server.js";

export interface FakeCheckRun {
  id: number;
  owner: string;
  repo: string;
  name: string;
  headSha: string;
  /** What the app put in `external_id` (the run check: its run id). */
  externalId: string | null;
  status: string;
  conclusion: string | null;
  output: { title?: string; summary?: string; text?: string };
  annotations: Record<string, unknown>[];
  /** The buttons (requested actions) the check shows now. */
  actions: { label: string; description: string; identifier: string }[];
}

interface CheckBody {
  name?: string;
  head_sha?: string;
  external_id?: string;
  status?: string;
  conclusion?: string;
  output?: { title?: string; summary?: string; text?: string; annotations?: Record<string, unknown>[] };
  actions?: { label: string; description: string; identifier: string }[];
}

export class FakeChecks {
  readonly runs: FakeCheckRun[] = [];
  private nextId = 4_000_001;

  constructor(private readonly fake: FakeGitHub) {
    fake.route("POST /repos/{owner}/{repo}/check-runs", ({ params, body }) => {
      const b = body as CheckBody;
      const tooMany = this.tooMany(b);
      if (tooMany) return tooMany;
      const run: FakeCheckRun = {
        id: this.nextId++,
        owner: params.owner!,
        repo: params.repo!,
        name: b.name!,
        headSha: b.head_sha!,
        externalId: null,
        status: b.status ?? "queued",
        conclusion: b.conclusion ?? null,
        output: {},
        annotations: [],
        actions: [],
      };
      this.apply(run, b);
      this.runs.push(run);
      return { status: 201, body: this.toApi(run) };
    });
    fake.route("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", ({ params, body }) => {
      const run = this.runs.find((r) => r.id === Number(params.check_run_id) && r.owner === params.owner && r.repo === params.repo);
      if (!run) return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
      const b = body as CheckBody;
      const tooMany = this.tooMany(b);
      if (tooMany) return tooMany;
      if (run.status === "completed" && ((b.status !== undefined && b.status !== "completed") || (b.conclusion !== undefined && b.conclusion !== run.conclusion))) {
        return { status: 422, body: { message: "Validation Failed: a completed check run cannot change its status or conclusion", documentation_url: "https://docs.github.com/rest/checks/runs#update-a-check-run" } };
      }
      this.apply(run, b);
      return { status: 200, body: this.toApi(run) };
    });
    // GitHub's default `filter=latest` hides a name's older runs; `all` lists every one. Newest first.
    fake.route("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", ({ params, query }) => {
      const name = query.get("check_name");
      const status = query.get("status");
      const onRef = this.runs
        .filter((r) => r.owner.toLowerCase() === params.owner!.toLowerCase() && r.repo.toLowerCase() === params.repo!.toLowerCase() && r.headSha === params.ref)
        .filter((r) => (name === null || r.name === name) && (status === null || r.status === status))
        .sort((a, b) => b.id - a.id);
      const listed = query.get("filter") === "all" ? onRef : onRef.filter((r, i) => onRef.findIndex((o) => o.name === r.name) === i);
      return { status: 200, body: { total_count: listed.length, check_runs: pageOf(listed, query).map((r) => this.toApi(r)) } };
    });
  }

  private tooMany(b: CheckBody): FakeResponse | null {
    const n = b.output?.annotations?.length ?? 0;
    return n > 50 ? { status: 422, body: { message: `Only 50 annotations may be sent per request; got ${n}` } } : null;
  }

  private apply(run: FakeCheckRun, b: CheckBody): void {
    if (b.actions !== undefined) run.actions = b.actions;
    if (b.external_id !== undefined) run.externalId = b.external_id;
    if (b.status) run.status = b.status;
    if (b.conclusion) {
      run.conclusion = b.conclusion;
      run.status = "completed";
    }
    if (b.output) {
      const { annotations, ...rest } = b.output;
      run.output = { ...run.output, ...rest };
      run.annotations.push(...(annotations ?? []));
    }
  }

  private toApi(run: FakeCheckRun): Record<string, unknown> {
    const url = `${this.fake.url}/repos/${run.owner}/${run.repo}/check-runs/${run.id}`;
    return this.fake.api.sample("check-run", {
      id: run.id,
      head_sha: run.headSha,
      name: run.name,
      external_id: run.externalId,
      url,
      html_url: `https://github.com/${run.owner}/${run.repo}/runs/${run.id}`,
      status: run.status,
      conclusion: run.conclusion,
      output: {
        title: run.output.title ?? null,
        summary: run.output.summary ?? null,
        text: run.output.text ?? null,
        annotations_count: run.annotations.length,
        annotations_url: `${url}/annotations`,
      },
    });
  }
}
