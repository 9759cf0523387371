/**
 * The catalog: every workflow in a repository's `workflows/` folder. Input is plain
 * (name, bytes) pairs so the same code serves the CLI (read from disk) and the app
 * (read from the base branch through the GitHub API).
 */
import type { ActionRegistry } from "../actions/registry.js";
import { checkWorkflow } from "./check-workflow.js";
import { tooManySteps } from "./step-limit.js";
import type { Catalog } from "./check-request.js";
import type { Problem } from "./problems.js";
import { parseSource } from "./source.js";
import type { WorkflowSpec } from "./types.js";

export interface SourceFile {
  path: string;
  content: Uint8Array | string;
}

export interface LoadedCatalog {
  catalog: Catalog;
  problems: Problem[];
}

export const WORKFLOW_FILE = /(^|\/)([^/]+)\.ya?ml$/;

/** The workflow name a file must declare: its base name without extension. */
export function workflowNameOf(path: string): string {
  return WORKFLOW_FILE.exec(path)?.[2] ?? path;
}

export function buildCatalog(files: readonly SourceFile[], registry: ActionRegistry): LoadedCatalog {
  const catalog = new Map<string, WorkflowSpec | undefined>();
  const problems: Problem[] = [];
  for (const f of files) {
    const name = workflowNameOf(f.path);
    const parsed = parseSource(f.path, f.content);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      catalog.set(name, undefined);
      continue;
    }
    if (parsed.doc.value.kind !== "Workflow") continue;
    const tooMany = tooManySteps(parsed.doc);
    const checked = tooMany ? { problems: [tooMany], workflow: undefined } : checkWorkflow(parsed.doc, registry, { expectedName: name });
    problems.push(...checked.problems);
    catalog.set(name, checked.problems.length === 0 ? checked.workflow : undefined);
  }
  return { catalog, problems };
}
