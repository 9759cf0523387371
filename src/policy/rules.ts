/**
 * The approval requirements a PR must meet, from three sources read at the
 * base branch: CODEOWNERS, each requested workflow's `approval`, and the
 * repository policy (default count, path rules, control plane). Requirements
 * are cumulative; one reviewer's approval may satisfy several of them.
 */
import { CODEOWNERS_LOCATIONS, compileCodeowners, type CodeownersError, type CodeownersRule } from "./codeowners.js";
import type { PolicyConfig } from "./config.js";
import type { PolicyFacts } from "./facts.js";
import { loginKey } from "./reviews.js";

export type RuleKind = "codeowners" | "minApprovals" | "workflow" | "path" | "controlPlane";

export interface Requirement {
  /** Stable id: `codeowners:<line>`, `minApprovals`, `workflow:<name>`, `path:<pattern>`, `controlPlane`. */
  rule: string;
  kind: RuleKind;
  /** Plain-words origin of the requirement, for the explanation. */
  because: string;
  /** Owners as written (`@user`, `@org/team`, e-mail); empty means any eligible reviewer. */
  anyOf: string[];
  /** Approvals needed. */
  count: number;
  paths?: string[];
  /** CODEOWNERS line that made the requirement. */
  line?: number;
  /** Resolved eligible logins (lower-case), or null for any eligible reviewer. */
  eligible: Set<string> | null;
}

export interface RuleSet {
  requirements: Requirement[];
  blocking: { code: string; message: string }[];
  warnings: string[];
  codeownersErrors: CodeownersError[];
}

/** Resolves owner specs to logins using the team and e-mail facts. */
export function resolveOwners(owners: readonly string[], facts: PolicyFacts, warnings: string[]): Set<string> {
  const out = new Set<string>();
  const teams = new Map(Object.entries(facts.teams).map(([k, v]) => [k.toLowerCase(), v]));
  const emails = new Map(Object.entries(facts.emails ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  for (const o of owners) {
    if (o.startsWith("@") && o.includes("/")) {
      const members = teams.get(o.slice(1).toLowerCase());
      if (!members) warnings.push(`team ${o} has no known members (not in facts.teams), so nobody can approve for it`);
      for (const m of members ?? []) out.add(loginKey(m));
    } else if (o.startsWith("@")) {
      out.add(loginKey(o.slice(1)));
    } else if (!o.includes("@")) {
      warnings.push(`owner "${o}" is neither @user, @org/team nor an e-mail address, so it cannot approve`);
    } else {
      const login = emails.get(o.toLowerCase());
      if (login) out.add(loginKey(login));
      else warnings.push(`owner ${o} is not a known verified e-mail (facts.emails), so it cannot approve`);
    }
  }
  return out;
}

function pathList(paths: string[]): string {
  return paths.length <= 3 ? paths.join(", ") : `${paths.slice(0, 3).join(", ")} and ${paths.length - 3} more`;
}

/** Every path a change touches: renames count at both ends. */
export function touchedPaths(facts: PolicyFacts): string[] {
  const out: string[] = [];
  for (const f of facts.files) {
    out.push(f.path);
    if (f.previousPath && f.previousPath !== f.path) out.push(f.previousPath);
  }
  return out;
}

export function buildRules(facts: PolicyFacts, config: PolicyConfig, opts: { breakGlassCap: number | null }): RuleSet {
  const requirements: Requirement[] = [];
  const blocking: RuleSet["blocking"] = [];
  const warnings: string[] = [];
  const paths = touchedPaths(facts);
  const cap = (n: number): number => (opts.breakGlassCap === null ? n : Math.min(n, opts.breakGlassCap));
  const uniqueWarn = (list: string[]): void => {
    for (const w of list) if (!warnings.includes(w)) warnings.push(w);
  };
  const resolve = (owners: readonly string[]): Set<string> => {
    const w: string[] = [];
    const s = resolveOwners(owners, facts, w);
    uniqueWarn(w);
    return s;
  };

  // 1. CODEOWNERS: every owned path needs one approval from one of its owners.
  let codeownersErrors: CodeownersError[] = [];
  const ownedBy = new Map<string, string[]>();
  if (facts.codeowners) {
    const file = facts.codeownersPath ?? "CODEOWNERS";
    const matcher = compileCodeowners(facts.codeowners);
    codeownersErrors = [...matcher.errors];
    if (matcher.errors.length > 0) {
      // GitHub skips bad lines; we refuse to decide on a partly-read file,
      // because a skipped line can hand a path to a weaker owner.
      blocking.push({
        code: "codeowners-invalid",
        // The first few are enough to act on; a check run cannot show thousands.
        message: `${file} has ${matcher.errors.length === 1 ? "an error" : `${matcher.errors.length} errors`}, so ownership cannot be trusted: ${matcher.errors
          .slice(0, 10)
          .map((e) => `line ${e.line}: ${e.message}`)
          .join("; ")}${matcher.errors.length > 10 ? `; and ${matcher.errors.length - 10} more` : ""}`,
      });
    }
    const byLine = new Map<number, { rule: CodeownersRule; paths: string[] }>();
    const unownedBy = new Map<number, { rule: CodeownersRule; paths: string[] }>();
    for (const p of paths) {
      const m = matcher.match(p);
      if (!m.rule) continue;
      if (m.owners.length === 0) {
        // Said out loud: a reader would otherwise expect an earlier, broader line to apply.
        const entry = unownedBy.get(m.rule.line);
        if (entry) entry.paths.push(p);
        else unownedBy.set(m.rule.line, { rule: m.rule, paths: [p] });
        continue;
      }
      ownedBy.set(p, m.owners);
      const entry = byLine.get(m.rule.line);
      if (entry) entry.paths.push(p);
      else byLine.set(m.rule.line, { rule: m.rule, paths: [p] });
    }
    for (const [line, { rule, paths: un }] of [...unownedBy.entries()].sort((a, b) => a[0] - b[0])) {
      warnings.push(`${file} line ${line} (\`${rule.source}\`) lists no owners, so ${pathList(un)} ${un.length === 1 ? "has" : "have"} no code owner and only the other rules apply`);
    }
    for (const [line, { rule, paths: owned }] of [...byLine.entries()].sort((a, b) => a[0] - b[0])) {
      const anyOf = rule.owners.map((o) => o.text);
      requirements.push({
        rule: `codeowners:${line}`,
        kind: "codeowners",
        because: `${file} line ${line} (\`${rule.source}\`) owns ${pathList(owned)}`,
        anyOf,
        count: 1,
        paths: owned,
        line,
        eligible: resolve(anyOf),
      });
    }
  }

  // 2. Repository default.
  requirements.push({
    rule: "minApprovals",
    kind: "minApprovals",
    because: "the repository policy applies to every pull request",
    anyOf: [],
    count: cap(config.minApprovals),
    eligible: null,
  });

  // 3. Requested workflows; the repository policy's entry wins over the workflow file.
  const requests = facts.requests ?? [];
  const workflowNames = [...new Set(requests.map((r) => r.workflow))];
  for (const name of workflowNames) {
    // Own properties only: a request naming "constructor" must not find Object's.
    const wf = facts.workflows && Object.hasOwn(facts.workflows, name) ? facts.workflows[name] : undefined;
    const files = requests.filter((r) => r.workflow === name).map((r) => r.path);
    if (!wf) {
      blocking.push({ code: "unknown-workflow", message: `${pathList(files)} names workflow "${name}", which does not exist on the base branch` });
      continue;
    }
    const override = Object.hasOwn(config.workflows, name) ? config.workflows[name] : undefined;
    const minApprovals = override?.minApprovals ?? wf.approval?.minApprovals;
    const from = override?.from ?? wf.approval?.from;
    if (minApprovals === undefined && from === undefined) continue;
    const origin = override ? `.github/clutch-luigi.yml (workflows.${name})` : `workflow "${name}"`;
    const count = minApprovals ?? 1;
    requirements.push({
      rule: `workflow:${name}`,
      kind: "workflow",
      because: `${origin} governs ${pathList(files)}`,
      anyOf: from ?? [],
      count: cap(count),
      paths: files,
      eligible: from?.length ? resolve(from) : null,
    });
  }

  // 4. Path rules of the repository policy.
  for (const rule of config.paths) {
    const hit = paths.filter((p) => rule.matcher.test(p));
    if (hit.length === 0) continue;
    requirements.push({
      rule: `path:${rule.pattern}`,
      kind: "path",
      because: `.github/clutch-luigi.yml path rule "${rule.pattern}" matches ${pathList(hit)}`,
      anyOf: rule.from,
      count: cap(rule.minApprovals),
      paths: hit,
      eligible: rule.from.length ? resolve(rule.from) : null,
    });
  }

  // 5. The control plane: workflows/ and .github/ themselves.
  const cp = config.controlPlane;
  // Every CODEOWNERS location is control plane, wherever the current file lives:
  // adding one at a location searched earlier would take over ownership.
  const cpPaths = paths.filter((p) => (CODEOWNERS_LOCATIONS as readonly string[]).includes(p) || cp.matchers.some((m) => m.test(p)));
  if (cpPaths.length > 0) {
    if (cp.owners.length > 0) {
      requirements.push({
        rule: "controlPlane",
        kind: "controlPlane",
        because: `${pathList(cpPaths)} ${cpPaths.length === 1 ? "is" : "are"} part of the control plane (${cp.paths.join(", ")})`,
        anyOf: cp.owners,
        count: cp.minApprovals,
        paths: cpPaths,
        eligible: resolve(cp.owners),
      });
    } else {
      const unowned = cpPaths.filter((p) => !ownedBy.has(p));
      if (unowned.length > 0) {
        blocking.push({
          code: "control-plane-unowned",
          message: `${pathList(unowned)} ${unowned.length === 1 ? "is" : "are"} control plane but owned by nobody: set controlPlane.owners or a CODEOWNERS line`,
        });
      }
    }
    if (requests.length > 0 && !cp.allowWithRequests) {
      blocking.push({
        code: "control-plane-with-requests",
        message: `this pull request changes the control plane (${pathList(cpPaths)}) and also adds requests (${pathList(requests.map((r) => r.path))}); split them so a request never runs on definitions approved in the same breath`,
      });
    }
  }

  return { requirements, blocking, warnings, codeownersErrors };
}
