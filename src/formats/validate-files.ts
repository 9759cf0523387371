/**
 * `clutch-luigi validate` and `run`'s loading step: read files, decide what each is,
 * check it, and gather every problem.
 */
import path from "node:path";
import type { ActionRegistry } from "../actions/registry.js";
import type { LoadedCatalog } from "./catalog.js";
import { workflowNameOf } from "./catalog.js";
import { checkPolicyConfig, isPolicyConfigPath } from "./check-policy-config.js";
import { checkRequest } from "./check-request.js";
import { checkWorkflow } from "./check-workflow.js";
import { collectFiles, findWorkflowsDir, loadCatalogDir, readBoundedFile } from "./files.js";
import { capProblems, type Problem } from "./problems.js";
import { parseSource } from "./source.js";
import { tooManySteps } from "./step-limit.js";
import type { RequestSpec, WorkflowSpec } from "./types.js";

export interface ValidateOptions {
  registry: ActionRegistry;
  cwd: string;
  /** Catalog folder for requests; default: the nearest `workflows/` above each request. */
  workflowsDir?: string;
}

export interface FileReport {
  file: string;
  kind?: "Workflow" | "Request" | "Policy";
  problems: Problem[];
}

class CatalogCache {
  private readonly byDir = new Map<string, Promise<LoadedCatalog>>();
  constructor(private readonly opts: ValidateOptions) {}
  get(dir: string): Promise<LoadedCatalog> {
    let c = this.byDir.get(dir);
    if (!c) {
      c = loadCatalogDir(dir, this.opts.registry, this.opts.cwd);
      this.byDir.set(dir, c);
    }
    return c;
  }
}

async function checkFile(
  abs: string,
  opts: ValidateOptions,
  catalogs: CatalogCache,
): Promise<FileReport & { request?: RequestSpec; workflow?: WorkflowSpec }> {
  const file = path.relative(opts.cwd, abs) || abs;
  const read = await readBoundedFile(abs);
  if (!read.ok) return { file, problems: [{ file, line: 1, col: 1, message: read.message }] };
  const parsed = parseSource(file, read.bytes);
  if (!parsed.ok) return { file, problems: parsed.problems };
  const { doc } = parsed;
  if (isPolicyConfigPath(file)) return { file, kind: "Policy", problems: capProblems(checkPolicyConfig(doc)) };
  const kind = doc.value.kind;
  if (kind === "Workflow") {
    const tooMany = tooManySteps(doc);
    if (tooMany) return { file, kind, problems: [tooMany] };
    const checked = checkWorkflow(doc, opts.registry, { expectedName: workflowNameOf(file) });
    return { file, kind, problems: capProblems(checked.problems), workflow: checked.workflow };
  }
  if (kind === "Request") {
    const dir = opts.workflowsDir ? path.resolve(opts.cwd, opts.workflowsDir) : findWorkflowsDir(abs);
    if (!dir) {
      return {
        file,
        kind,
        problems: [doc.problem(["workflow"], "no workflows/ folder found above this request; pass --workflows DIR")],
      };
    }
    const { catalog } = await catalogs.get(dir);
    const checked = checkRequest(doc, catalog, opts.registry);
    return { file, kind, problems: checked.problems, request: checked.request, workflow: checked.workflow };
  }
  const message =
    kind === undefined ? 'missing "kind": expected Workflow or Request' : `unknown kind ${JSON.stringify(kind)}: expected Workflow or Request`;
  return { file, problems: [doc.problem(kind === undefined ? [] : ["kind"], message)] };
}

export async function validatePaths(args: readonly string[], opts: ValidateOptions): Promise<FileReport[]> {
  const { files, missing } = collectFiles(args, opts.cwd);
  const catalogs = new CatalogCache(opts);
  const reports: FileReport[] = missing.map((m) => ({
    file: m,
    problems: [{ file: m, line: 0, col: 0, message: "no such file, or no YAML files there" }],
  }));
  for (const f of files) {
    try {
      const { file, kind, problems } = await checkFile(f, opts, catalogs);
      reports.push({ file, ...(kind ? { kind } : {}), problems });
    } catch (e) {
      // An unreadable file (permissions, removed meanwhile) is one problem, not the end of the pass.
      const file = path.relative(opts.cwd, f) || f;
      reports.push({ file, problems: [{ file, line: 1, col: 1, message: `cannot read: ${(e as Error).message}` }] });
    }
  }
  return reports;
}

export interface LoadedRequest {
  request: RequestSpec;
  workflow: WorkflowSpec;
  problems: Problem[];
}

/**
 * Load a request and the workflow it names, as a run needs them. `problems` non-empty
 * means the request must not run; `request`/`workflow` are then placeholders.
 */
export async function loadRequestForRun(
  requestPath: string,
  opts: { workflowsDir?: string; registry: ActionRegistry; cwd?: string },
): Promise<LoadedRequest> {
  const cwd = opts.cwd ?? process.cwd();
  const validateOpts: ValidateOptions = { registry: opts.registry, cwd, ...(opts.workflowsDir ? { workflowsDir: opts.workflowsDir } : {}) };
  const abs = path.resolve(cwd, requestPath);
  let report;
  try {
    report = await checkFile(abs, validateOpts, new CatalogCache(validateOpts));
  } catch (e) {
    const file = path.relative(cwd, abs) || abs;
    return { ...EMPTY, problems: [{ file, line: 0, col: 0, message: (e as Error).message }] };
  }
  if (report.kind !== "Request" && report.problems.length === 0) {
    report.problems.push({ file: report.file, line: 1, col: 1, message: "not a request (kind: Request)" });
  }
  if (report.problems.length > 0 || !report.request || !report.workflow) {
    return { ...EMPTY, problems: report.problems };
  }
  return { request: report.request, workflow: report.workflow, problems: [] };
}

const EMPTY: Omit<LoadedRequest, "problems"> = {
  request: { apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "", reason: "" },
  workflow: { apiVersion: "clutch-luigi/v1", kind: "Workflow", name: "", steps: [] },
};
