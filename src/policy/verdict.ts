/**
 * `evaluatePolicy(facts)`: the verdict the `clutch-luigi/policy` check shows
 * and the merge-time re-check relies on. Pure and total: any input, however
 * malformed, yields a verdict, and every doubt resolves to "not approved".
 */
import { effectivePolicyConfig, loadPolicyConfig, type PolicyConfig } from "./config.js";
import type { PolicyFacts } from "./facts.js";
import { checkFacts } from "./facts-schema.js";
import { activeFreezes, describeFreeze } from "./freeze.js";
import { assessReviews, hasWriteAccess, isBotActor, loginKey, type IgnoredApproval } from "./reviews.js";
import { buildRules, type RuleKind } from "./rules.js";

export interface MissingApproval {
  rule: string;
  /** Who may give the approval; empty means any eligible reviewer. */
  anyOf: string[];
  /** How many more approvals are needed. */
  count: number;
  line?: number;
  paths?: string[];
}

export interface Blocker {
  code: string;
  message: string;
}

export interface RequirementResult {
  rule: string;
  kind: RuleKind;
  because: string;
  anyOf: string[];
  required: number;
  approvedBy: string[];
  satisfied: boolean;
  line?: number;
  paths?: string[];
}

export interface Verdict {
  approved: boolean;
  /** Reviewers whose approvals count, in submission order. */
  approvedBy: string[];
  missing: MissingApproval[];
  blocking: Blocker[];
  explanation: string;
  /** One line for a check run's title. */
  summary: string;
  requirements: RequirementResult[];
  ignoredApprovals: IgnoredApproval[];
  breakGlass: { active: boolean; label: string | null; reason: string | null };
  /** Freeze windows in force for this PR's requests. */
  freezes: string[];
  warnings: string[];
  headSha: string | null;
}

/** `Break-glass: <reason>` on a line of its own in the PR description. */
export function parseBreakGlassReason(body: string | null | undefined): string | null {
  if (!body) return null;
  // Line by line with an anchored prefix and a plain trim: the body is written
  // by the requester, and a backtracking pattern over the whole line would let
  // a long run of spaces stall the verdict (quadratic time).
  for (const line of body.split(/\r\n|\n|\r/)) {
    const m = /^[ \t]*break[- ]glass(?:[ \t]+reason)?[ \t]*:/i.exec(line);
    if (!m) continue;
    const reason = line.slice(m[0].length).replace(/^[ \t]+/, "").trimEnd();
    if (reason !== "") return reason;
  }
  return null;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function whoText(anyOf: string[]): string {
  return anyOf.length === 0 ? "any reviewer other than the author" : anyOf.join(" or ");
}

function notEvaluated(headSha: string | null, blocking: Blocker[]): Verdict {
  const explanation = ["Not approved: the policy could not be evaluated.", ...blocking.map((b) => `- ${b.message}`)].join("\n");
  return {
    approved: false,
    approvedBy: [],
    missing: [],
    blocking,
    explanation,
    summary: blocking[0] ? `Blocked: ${blocking[0].message}` : "Not approved",
    requirements: [],
    ignoredApprovals: [],
    breakGlass: { active: false, label: null, reason: null },
    freezes: [],
    warnings: [],
    headSha,
  };
}

export function evaluatePolicy(input: PolicyFacts): Verdict {
  const factProblems = checkFacts(input);
  const headSha = typeof (input as { headSha?: unknown })?.headSha === "string" ? input.headSha : null;
  if (factProblems.length > 0) {
    return notEvaluated(headSha, [{ code: "facts-invalid", message: `the facts snapshot is malformed: ${factProblems.join("; ")}` }]);
  }
  const facts = input;
  // The org file is checked on its own first, so its mistakes are not blamed on the repository's file.
  if (facts.orgConfig !== undefined && facts.orgConfig !== null) {
    const org = loadPolicyConfig(facts.orgConfig);
    if (!org.ok) {
      return notEvaluated(headSha, [
        { code: "config-invalid", message: `the organisation's default .github/clutch-luigi.yml is invalid, so no permissive default is assumed: ${org.errors.join("; ")}` },
      ]);
    }
  }
  const loaded = effectivePolicyConfig(facts);
  if (!loaded.ok) {
    return notEvaluated(headSha, [
      { code: "config-invalid", message: `.github/clutch-luigi.yml is invalid, so no permissive default is assumed: ${loaded.errors.join("; ")}` },
    ]);
  }
  return decide(facts, loaded.config);
}

function decide(facts: PolicyFacts, config: PolicyConfig): Verdict {
  const blocking: Blocker[] = [];
  const requests = facts.requests ?? [];
  const workflowNames = [...new Set(requests.map((r) => r.workflow))];

  // Break-glass: the label opens it, a written reason makes it effective.
  const bg = config.breakGlass;
  const labelled = bg.enabled && (facts.labels ?? []).some((l) => l.toLowerCase() === bg.label.toLowerCase());
  const reason = labelled ? parseBreakGlassReason(facts.body) : null;
  const breakGlassActive = labelled && (reason !== null || !bg.requireReason);
  if (labelled && !breakGlassActive) {
    blocking.push({
      code: "break-glass-reason",
      message: `the "${bg.label}" label needs a written reason: add a line "Break-glass: <why this cannot wait>" to the pull request description`,
    });
  }

  // Who may request.
  if (requests.length > 0 && isBotActor(facts.author, config.machineUsers)) {
    const allowed =
      config.botsMayRequest === true ||
      (Array.isArray(config.botsMayRequest) && config.botsMayRequest.some((l) => loginKey(l) === loginKey(facts.author.login)));
    if (!allowed) {
      blocking.push({
        code: "bot-requester",
        message: `${facts.author.login} is a bot or machine user, and the policy does not let it open requests (botsMayRequest)`,
      });
    }
  }

  // Freeze windows.
  let now = facts.now ? new Date(facts.now) : new Date();
  if (Number.isNaN(now.getTime())) now = new Date();
  const freezes = requests.length > 0 ? activeFreezes(config.freeze, now, workflowNames).map(describeFreeze) : [];
  if (freezes.length > 0 && !(breakGlassActive && bg.allowDuringFreeze)) {
    blocking.push({
      code: "freeze",
      message: `a change freeze is in force: ${freezes.join(", ")}${bg.enabled && bg.allowDuringFreeze ? ` (the "${bg.label}" label with a reason lets an urgent request through)` : ""}`,
    });
  }

  const rules = buildRules(facts, config, { breakGlassCap: breakGlassActive ? bg.minApprovals : null });
  blocking.push(...rules.blocking);

  const reviews = assessReviews(facts, { staleApprovals: config.staleApprovals, machineUsers: config.machineUsers });
  if (!facts.permissions && reviews.approvals.size > 0) {
    rules.warnings.push("reviewers' repository permissions were not provided, so write access was not checked");
  }

  // Change requests from anyone who could approve block; so do vetoes.
  const vetoMembers = new Set<string>();
  if (config.vetoTeams.length > 0) {
    const teams = new Map(Object.entries(facts.teams).map(([k, v]) => [k.toLowerCase(), v]));
    for (const t of config.vetoTeams) {
      const members = t.includes("/") ? teams.get(t.slice(1).toLowerCase()) : [t.slice(1)];
      if (!members) rules.warnings.push(`veto team ${t} has no known members (not in facts.teams)`);
      for (const m of members ?? []) vetoMembers.add(loginKey(m));
    }
  }
  const authorKey = loginKey(facts.author.login);
  for (const cr of reviews.changesRequested) {
    const key = loginKey(cr.login);
    if (vetoMembers.has(key)) {
      blocking.push({ code: "veto", message: `${cr.login} (veto team) requested changes; this blocks whatever else approves until they approve or the review is dismissed` });
      continue;
    }
    const human = key !== authorKey && !isBotActor(cr.review.user, config.machineUsers) && hasWriteAccess(facts, cr.login);
    const eligible = human && rules.requirements.some((r) => r.eligible === null || r.eligible.has(key));
    if (eligible) {
      blocking.push({ code: "changes-requested", message: `${cr.login} requested changes; they must approve or the review must be dismissed` });
    }
  }

  // Requirements against counted approvals.
  const approvers = [...reviews.approvals.entries()];
  const requirements: RequirementResult[] = rules.requirements.map((r) => {
    const by = approvers.filter(([key]) => r.eligible === null || r.eligible.has(key)).map(([, a]) => a.login);
    return {
      rule: r.rule,
      kind: r.kind,
      because: r.because,
      anyOf: r.anyOf,
      required: r.count,
      approvedBy: by,
      satisfied: by.length >= r.count,
      ...(r.line !== undefined ? { line: r.line } : {}),
      ...(r.paths ? { paths: r.paths } : {}),
    };
  });
  const missing: MissingApproval[] = requirements
    .filter((r) => !r.satisfied)
    .map((r) => ({
      rule: r.rule,
      anyOf: r.anyOf,
      count: r.required - r.approvedBy.length,
      ...(r.line !== undefined ? { line: r.line } : {}),
      ...(r.paths ? { paths: r.paths } : {}),
    }));

  const approved = blocking.length === 0 && missing.length === 0;
  const verdict: Verdict = {
    approved,
    approvedBy: approvers.map(([, a]) => a.login),
    missing,
    blocking,
    explanation: "",
    summary: "",
    requirements,
    ignoredApprovals: reviews.ignored,
    breakGlass: { active: breakGlassActive, label: labelled ? bg.label : null, reason },
    freezes,
    warnings: rules.warnings,
    headSha: facts.headSha,
  };
  verdict.explanation = explain(verdict, reviews.approvals);
  verdict.summary = summarize(verdict);
  return verdict;
}

function summarize(v: Verdict): string {
  const tag = v.breakGlass.active ? " [BREAK-GLASS]" : "";
  if (v.approved) return `Approved by ${v.approvedBy.join(", ")}${tag}`;
  const parts: string[] = [];
  if (v.blocking.length > 0) parts.push(`blocked (${[...new Set(v.blocking.map((b) => b.code))].join(", ")})`);
  for (const m of v.missing) parts.push(`${plural(m.count, "more approval")} from ${whoText(m.anyOf)}`);
  return `Not approved: ${parts.join("; ")}${tag}`;
}

function explain(v: Verdict, approvals: ReturnType<typeof assessReviews>["approvals"]): string {
  const out: string[] = [];
  if (v.approved) {
    out.push(`Approved by ${v.approvedBy.join(", ")}.`);
  } else if (v.missing.length > 0 && v.blocking.length === 0) {
    out.push("Not approved: approvals are missing.");
  } else {
    out.push("Not approved.");
  }
  if (v.breakGlass.active) {
    out.push(`BREAK-GLASS: the "${v.breakGlass.label}" label is set (reason: ${v.breakGlass.reason ?? "none given"}). This is recorded; a follow-up review is required.`);
  }
  for (const b of v.blocking) out.push(`Blocked: ${b.message}.`);
  for (const r of v.requirements) {
    const need = `${plural(r.required, "approval")} from ${whoText(r.anyOf)}`;
    if (r.satisfied) {
      out.push(`✓ ${r.because}: ${need}; approved by ${r.approvedBy.join(", ")}.`);
    } else {
      const have = r.approvedBy.length === 0 ? "none yet" : `only ${r.approvedBy.join(", ")}`;
      out.push(`✗ ${r.because}: needs ${need}; ${have}, so ${plural(r.required - r.approvedBy.length, "more approval")} needed.`);
    }
  }
  for (const a of approvals.values()) if (a.carriedOver) out.push(`Counted: ${a.login} ${a.carriedOver}.`);
  for (const i of v.ignoredApprovals) out.push(`Not counted: ${i.login}'s approval: ${i.reason}.`);
  for (const w of v.warnings) out.push(`Note: ${w}.`);
  return out.join("\n");
}
