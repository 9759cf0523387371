/**
 * The policy settings of `.github/clutch-luigi.yml`: validation against the
 * JSON Schema, defaults, and merging over organisation-wide defaults. An
 * invalid config never falls back to permissive defaults: the caller gets
 * errors and the verdict blocks.
 */
import { Ajv, type ErrorObject } from "ajv";
import { CONFIG_SCHEMA } from "./config-schema.js";
import { boundProblem, rangeIsEmpty } from "./freeze.js";
import { compilePattern, type CompiledPattern } from "./pattern.js";

export type StaleApprovals = "keep" | "dismiss" | "content";
export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

export interface ApprovalRuleConfig {
  minApprovals?: number;
  from?: string[];
}

export interface FreezeWindow {
  name?: string;
  timeZone?: string;
  from?: string;
  to?: string;
  weekly?: { days: Weekday[]; from?: string; to?: string };
  workflows?: string[];
}

export interface PolicyConfigInput {
  minApprovals?: number;
  staleApprovals?: StaleApprovals;
  botsMayRequest?: boolean | string[];
  machineUsers?: string[];
  paths?: { pattern: string; minApprovals?: number; from?: string[] }[];
  workflows?: Record<string, ApprovalRuleConfig>;
  freeze?: FreezeWindow[];
  breakGlass?: false | { label?: string; requireReason?: boolean; minApprovals?: number; allowDuringFreeze?: boolean };
  vetoTeams?: string[];
  operators?: string[];
  timeZone?: string;
  controlPlane?: { paths?: string[]; owners?: string[]; minApprovals?: number; allowWithRequests?: boolean };
}

/** The config with every default filled in and path patterns compiled. */
export interface PolicyConfig {
  minApprovals: number;
  staleApprovals: StaleApprovals;
  botsMayRequest: boolean | string[];
  machineUsers: string[];
  paths: { pattern: string; minApprovals: number; from: string[]; matcher: CompiledPattern }[];
  workflows: Record<string, ApprovalRuleConfig>;
  freeze: FreezeWindow[];
  breakGlass: { enabled: boolean; label: string; requireReason: boolean; minApprovals: number | null; allowDuringFreeze: boolean };
  vetoTeams: string[];
  /** Who may act on runs (retry, roll back, cancel) besides the request file's code owners. */
  operators: string[];
  /** The team's IANA time zone: outcome comments give times in it as well as in UTC. */
  timeZone: string | null;
  controlPlane: { paths: string[]; matchers: CompiledPattern[]; owners: string[]; minApprovals: number; allowWithRequests: boolean };
}

export const DEFAULT_CONTROL_PLANE_PATHS = ["/workflows/", "/.github/"];

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(CONFIG_SCHEMA);

export type ConfigResult = { ok: true; config: PolicyConfig } | { ok: false; errors: string[] };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Repository settings over organisation defaults, as Probot's `context.config()`
 * layers them: objects merge key by key, anything else (arrays included) is
 * replaced by the repository's value.
 */
export function mergeConfig(orgDefaults: unknown, repo: unknown): unknown {
  if (repo === undefined || repo === null) return orgDefaults ?? {};
  if (orgDefaults === undefined || orgDefaults === null) return repo;
  // Lists add up, as in Probot's context.config (deepmerge): an org's veto teams and
  // freeze windows are a floor a single repository cannot quietly drop.
  if (Array.isArray(orgDefaults) && Array.isArray(repo)) {
    const seen = new Set<string>();
    return [...orgDefaults, ...repo].filter((v) => {
      const key = JSON.stringify(v);
      return seen.has(key) ? false : (seen.add(key), true);
    });
  }
  if (!isPlainObject(orgDefaults) || !isPlainObject(repo)) return repo;
  const out: Record<string, unknown> = { ...orgDefaults };
  for (const [k, v] of Object.entries(repo)) {
    // Defined, not assigned: a "__proto__" key must stay a key the schema rejects,
    // not become the merged object's prototype.
    Object.defineProperty(out, k, { value: Object.hasOwn(out, k) ? mergeConfig(out[k], v) : v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function formatError(e: ErrorObject): string {
  const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, ".") : "(top level)";
  if (e.keyword === "additionalProperties") {
    return `${where}: unknown setting "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (e.keyword === "enum") {
    return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return `${where}: ${e.message ?? "is invalid"}`;
}

function oneOfHint(instancePath: string): string {
  if (/^\/freeze\/\d+$/.test(instancePath)) return "a freeze window needs either from and to, or weekly (not both)";
  if (instancePath === "/breakGlass") return "must be false or an object";
  if (instancePath === "/botsMayRequest") return "must be true, false or a list of logins";
  return "does not match any allowed form";
}

/** Whether `tz` is an IANA time zone this runtime knows. */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The config a verdict is given under: the repository's file laid over the organisation's defaults. */
export function effectivePolicyConfig(facts: { config?: unknown; orgConfig?: unknown }): ConfigResult {
  return loadPolicyConfig(facts.orgConfig === undefined ? facts.config : mergeConfig(facts.orgConfig, facts.config));
}

/** Validates and completes a config. `undefined`/`null` (no file) means all defaults. */
export function loadPolicyConfig(input: unknown): ConfigResult {
  const raw = input ?? {};
  if (!validate(raw)) {
    // oneOf failures repeat their branches' errors; keep the messages a human can act on,
    // and speak for a oneOf only where nothing more specific was said about that place.
    const all = validate.errors ?? [];
    const specific = all.filter((e) => e.keyword !== "oneOf" && e.keyword !== "not" && e.keyword !== "const");
    const general = all
      .filter((e) => e.keyword === "oneOf" && !specific.some((s) => s.instancePath.startsWith(e.instancePath)))
      .map((e) => ({ ...e, message: oneOfHint(e.instancePath) }));
    const errors = [...new Set([...specific, ...general].map(formatError))];
    return { ok: false, errors: errors.length > 0 ? errors : ["config does not match the schema"] };
  }
  const c = raw as PolicyConfigInput;
  const errors: string[] = [];
  const paths: PolicyConfig["paths"] = [];
  (c.paths ?? []).forEach((p, i) => {
    const m = compilePattern(p.pattern);
    if (typeof m === "string") errors.push(`paths.${i}.pattern: ${m}`);
    else paths.push({ pattern: p.pattern, minApprovals: p.minApprovals ?? 1, from: p.from ?? [], matcher: m });
  });
  (c.freeze ?? []).forEach((w, i) => {
    if (w.timeZone !== undefined && !validTimeZone(w.timeZone)) errors.push(`freeze.${i}.timeZone: unknown time zone "${w.timeZone}"`);
    if (w.weekly) {
      const from = w.weekly.from ?? "00:00";
      const to = w.weekly.to ?? "24:00";
      if (from === "24:00") errors.push(`freeze.${i}.weekly.from: 24:00 is the end of a day; start at 00:00 instead`);
      else if (from === to) errors.push(`freeze.${i}.weekly: from and to are both ${from}, which is either nothing or a whole day; say which with from 00:00 and to 24:00`);
    }
    const fromProblem = w.from === undefined ? null : boundProblem(w.from);
    const toProblem = w.to === undefined ? null : boundProblem(w.to);
    if (fromProblem) errors.push(`freeze.${i}.from: "${w.from}": ${fromProblem}`);
    if (toProblem) errors.push(`freeze.${i}.to: "${w.to}": ${toProblem}`);
    if (w.from !== undefined && w.to !== undefined && !fromProblem && !toProblem && rangeIsEmpty(w.from, w.to)) {
      errors.push(`freeze.${i}: ends ("${w.to}") before it starts ("${w.from}"), so it would never freeze anything`);
    }
  });
  if (c.timeZone !== undefined && !validTimeZone(c.timeZone)) errors.push(`timeZone: unknown time zone "${c.timeZone}"`);
  const cpPaths = c.controlPlane?.paths ?? DEFAULT_CONTROL_PLANE_PATHS;
  const cpMatchers: CompiledPattern[] = [];
  cpPaths.forEach((p, i) => {
    const m = compilePattern(p);
    if (typeof m === "string") errors.push(`controlPlane.paths.${i}: ${m}`);
    else cpMatchers.push(m);
  });
  if (errors.length > 0) return { ok: false, errors };
  const bg = c.breakGlass;
  return {
    ok: true,
    config: {
      minApprovals: c.minApprovals ?? 1,
      staleApprovals: c.staleApprovals ?? "content",
      botsMayRequest: c.botsMayRequest ?? false,
      machineUsers: c.machineUsers ?? [],
      paths,
      workflows: c.workflows ?? {},
      freeze: c.freeze ?? [],
      breakGlass:
        bg === false
          ? { enabled: false, label: "break-glass", requireReason: true, minApprovals: null, allowDuringFreeze: false }
          : {
              enabled: true,
              label: bg?.label ?? "break-glass",
              requireReason: bg?.requireReason ?? true,
              minApprovals: bg?.minApprovals ?? null,
              allowDuringFreeze: bg?.allowDuringFreeze ?? true,
            },
      vetoTeams: c.vetoTeams ?? [],
      operators: c.operators ?? [],
      timeZone: c.timeZone ?? null,
      controlPlane: {
        paths: cpPaths,
        matchers: cpMatchers,
        owners: c.controlPlane?.owners ?? [],
        minApprovals: c.controlPlane?.minApprovals ?? 1,
        allowWithRequests: c.controlPlane?.allowWithRequests ?? false,
      },
    },
  };
}
