/**
 * Where a step sends data and secrets is the workflow's decision, never the request's.
 * Every field that picks a destination (a host, a named connection, a repository, a
 * secret, a program) is fixed in the workflow, or chosen from a closed list the
 * workflow declares (a param with `enum`/`const`); and an argv element may take a
 * param only if the workflow constrains it (`pattern`, `enum`, `const`, or a type whose
 * text is digits or true/false), so a
 * request cannot turn an argument into an option such as `--kubeconfig=/attacker`.
 */
import { findExpressions, parseTemplate, type ExpressionRef } from "./expressions.js";
import type { PathSegment } from "./source.js";

export interface DestinationProblem {
  /** Path inside `with`. */
  path: PathSegment[];
  /** Offset of the offending `${{` in the string at `path`. */
  offset: number;
  message: string;
}

/** literal: no expression at all. closed: only params whose schema is an `enum`/`const`. */
type Rule = "literal" | "closed";

/** Per action, the fields (top-level keys of `with`; `*` = every value of that object) and their rule. */
const FIELDS: Record<string, Record<string, Rule>> = {
  "http.request": { service: "literal", audience: "literal", tokenHeader: "literal", "secretHeaders.*": "literal" },
  shell: { command: "literal", "secretEnv.*": "literal" },
  "postgres.sql": { connection: "closed" },
  "postgres.rotate-password": { connection: "closed" },
  "github.workflow-dispatch": { repository: "closed", workflow: "closed" },
  "github.team-membership": { org: "closed", team: "closed" },
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The schema of `params.<path>` in the workflow's params schema, when it is spelled out. */
function paramSchema(params: unknown, path: (string | number)[]): Record<string, unknown> | undefined {
  let s: unknown = params;
  for (const k of path) {
    if (!isObject(s) || !isObject(s.properties) || typeof k !== "string" || !Object.hasOwn(s.properties, k)) return undefined;
    s = s.properties[k];
  }
  return isObject(s) ? s : undefined;
}

const closedParam = (params: unknown, ref: ExpressionRef): boolean => {
  const s = ref.root === "params" ? paramSchema(params, ref.path) : undefined;
  return !!s && (Array.isArray(s.enum) || Object.hasOwn(s, "const"));
};
const constrainedParam = (params: unknown, ref: ExpressionRef): boolean => {
  const s = ref.root === "params" ? paramSchema(params, ref.path) : undefined;
  if (!s) return false;
  if (Array.isArray(s.enum) || Object.hasOwn(s, "const") || typeof s.pattern === "string") return true;
  // Digits or true/false only: such a value can never read as an option.
  if (s.type === "boolean") return true;
  const min = typeof s.minimum === "number" ? s.minimum : typeof s.exclusiveMinimum === "number" ? s.exclusiveMinimum : undefined;
  return s.type === "integer" && min !== undefined && min >= 0;
};

const shown = (ref: ExpressionRef): string => `\${{ ${ref.source} }}`;

/**
 * The literal text before the first expression of an http.request URL must hold the
 * whole origin (scheme, host, port) and the character that ends it, so expressions
 * can only fill the path, query or fragment (the action normalizes the path at run time).
 */
const FIXED_ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\${}]+[/?#]/i;

function urlProblems(url: unknown): DestinationProblem[] {
  if (typeof url !== "string") return [];
  let first: ExpressionRef | undefined;
  let prefix = "";
  try {
    const parts = parseTemplate(url);
    const i = parts.findIndex((p) => typeof p !== "string");
    if (i < 0) return [];
    first = parts[i] as ExpressionRef;
    prefix = parts.slice(0, i).join("");
  } catch {
    return []; // reported as an invalid expression elsewhere
  }
  if (FIXED_ORIGIN.test(prefix)) return [];
  return [{
    path: ["url"],
    offset: first.offset,
    message: `${shown(first)}: http.request url must fix its scheme, host and port in the workflow; an expression may fill only the path, query or fragment (or use a named service)`,
  }];
}

function fieldProblems(action: string, withValue: Record<string, unknown>, params: unknown): DestinationProblem[] {
  const out: DestinationProblem[] = [];
  for (const [field, rule] of Object.entries(FIELDS[action] ?? {})) {
    const [key, star] = field.split(".") as [string, string | undefined];
    if (!Object.hasOwn(withValue, key)) continue;
    const v = withValue[key];
    const targets: [PathSegment[], unknown][] = star && isObject(v) ? Object.entries(v).map(([k, x]) => [[key, k], x]) : [[[key], v]];
    for (const [base, target] of targets) {
      let found;
      try {
        found = findExpressions(target, base);
      } catch {
        continue; // reported as an invalid expression elsewhere
      }
      for (const { ref, at } of found) {
        if (rule === "closed" && closedParam(params, ref)) continue;
        const what = star ? `${action} ${key} values` : `${action} ${key}`;
        out.push({
          path: at,
          offset: ref.offset,
          message: rule === "literal"
            ? `${shown(ref)}: ${what} must be written in the workflow, not taken from an expression`
            : `${shown(ref)}: ${what} may come only from a param with an enum (or const) in the workflow's params`,
        });
      }
    }
  }
  return out;
}

/** Free text the requester writes: never an argv element. */
const FREE_REQUEST_FIELDS = new Set(["reason"]);

function argvProblems(args: unknown, params: unknown): DestinationProblem[] {
  if (!Array.isArray(args)) return [];
  const out: DestinationProblem[] = [];
  args.forEach((arg, i) => {
    let found;
    try {
      found = findExpressions(arg, ["args", i]);
    } catch {
      return;
    }
    for (const { ref, at } of found) {
      // Step outputs are produced by actions the workflow chose; request fields other than
      // the reason are set by Clutch Luigi (commit, run id, logins), not typed by the requester.
      if (ref.root === "steps") continue;
      if (ref.root === "request" && !FREE_REQUEST_FIELDS.has(String(ref.path[0]))) continue;
      if (ref.root === "params" && constrainedParam(params, ref)) continue;
      out.push({
        path: at,
        offset: ref.offset,
        message: ref.root === "request"
          ? `${shown(ref)}: shell args may not carry the request's free-text ${String(ref.path[0])}`
          : `${shown(ref)}: shell args may take a param only if the workflow constrains it (pattern, enum, const, boolean, or integer with minimum >= 0)`,
      });
    }
  });
  return out;
}

/** Every destination rule the `with` of one call to `action` breaks. */
export function destinationProblems(action: string, withValue: unknown, params: unknown): DestinationProblem[] {
  if (!isObject(withValue)) return [];
  const out = fieldProblems(action, withValue, params);
  if (action === "http.request") out.push(...urlProblems(withValue.url));
  if (action === "shell") out.push(...argvProblems(withValue.args, params));
  return out;
}
