/**
 * Every team whose members the policy may need: those named in CODEOWNERS, in
 * the (merged) policy config, and in the approval rules of requested
 * workflows. Reading only these keeps the API calls proportional to what the
 * verdict can use.
 */
import { compileCodeowners } from "../policy/index.js";

/** `@org/team` as the policy writes it → `org/team`, lower-cased as the facts key it. */
function teamKey(owner: unknown): string | null {
  if (typeof owner !== "string") return null;
  const m = /^@([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(owner.trim());
  return m ? `${m[1]}/${m[2]}`.toLowerCase() : null;
}

function ownersIn(list: unknown, out: Set<string>): void {
  if (!Array.isArray(list)) return;
  for (const o of list) {
    const key = teamKey(o);
    if (key) out.add(key);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Teams named anywhere that grants or withholds approval. Tolerates malformed
 * config (the policy reports it); it only looks where a list of owners belongs.
 */
export function namedTeams(sources: { codeowners?: string | null; config?: unknown; workflowApprovals?: unknown[] }): string[] {
  const out = new Set<string>();
  if (sources.codeowners) {
    for (const rule of compileCodeowners(sources.codeowners).rules) for (const o of rule.owners) if (o.kind === "team") ownersIn([o.text], out);
  }
  const c = sources.config;
  if (isObject(c)) {
    if (Array.isArray(c.paths)) for (const p of c.paths) if (isObject(p)) ownersIn(p.from, out);
    if (isObject(c.workflows)) for (const w of Object.values(c.workflows)) if (isObject(w)) ownersIn(w.from, out);
    ownersIn(c.vetoTeams, out);
    if (isObject(c.controlPlane)) ownersIn(c.controlPlane.owners, out);
  }
  for (const a of sources.workflowApprovals ?? []) if (isObject(a)) ownersIn(a.from, out);
  return [...out].sort();
}
