/**
 * JSON Schema validation (ajv) whose errors become positioned problems. One Ajv
 * instance compiles every schema: the document schemas, action input schemas and the
 * params schemas platform teams write in workflows.
 */
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import type { RegExpEngine } from "ajv/dist/types/index.js";
import addFormatsModule from "ajv-formats";
import { RE2JS } from "re2js";
import type { JsonSchema } from "./types.js";
import type { PathSegment } from "./source.js";
import { hasExpression } from "./expressions.js";
import { closest } from "./suggest.js";

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** A `pattern` a linear-time engine cannot run (backreferences, lookaround); the schema's author must rewrite it. */
export class UnsupportedPatternError extends Error {
  constructor(readonly pattern: string, reason: string) {
    super(`pattern ${JSON.stringify(pattern)} is not supported (${reason}); patterns run on a linear-time engine (RE2 syntax): no backreferences or lookaround`);
    this.name = "UnsupportedPatternError";
  }
}

/** JavaScript's `\uXXXX` and `\u{X…}` escapes in RE2's spelling, `\x{…}`; everything else as written. */
function toRe2Syntax(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c !== "\\" || i + 1 >= pattern.length) {
      out += c;
      continue;
    }
    const hex4 = pattern.slice(i + 2, i + 6);
    if (pattern[i + 1] === "u" && hex4.length === 4 && [...hex4].every((h) => "0123456789abcdefABCDEF".includes(h))) {
      out += `\\x{${hex4}}`;
      i += 5;
    } else if (pattern[i + 1] === "u" && pattern[i + 2] === "{") {
      out += "\\x";
      i += 1;
    } else {
      out += c + pattern[i + 1];
      i += 1;
    }
  }
  return out;
}

/**
 * Schema `pattern`s run on the request's values, which a PR author writes; JavaScript's
 * backtracking engine would let `^(a+)+$` against a long value freeze the server. RE2
 * matches in time linear in the input, whatever the pattern.
 */
const linearRegExp: RegExpEngine = Object.assign(
  (pattern: string) => {
    try {
      return RE2JS.compile(toRe2Syntax(pattern));
    } catch (e) {
      throw new UnsupportedPatternError(pattern, (e as Error).message);
    }
  },
  { code: "re2js" },
);

// verbose: errors carry their parent schema, which "did you mean" needs for unknown keys.
const options: Options = { allErrors: true, strict: false, allowUnionTypes: true, verbose: true, code: { regExp: linearRegExp } };
const ajv = new Ajv(options);
addFormats(ajv);

// A second instance fills in `default:` values, as users of a params schema expect.
const ajvDefaults = new Ajv({ ...options, useDefaults: true });
addFormats(ajvDefaults);

const cache = new Map<string, ValidateFunction>();

export function compileSchema(schema: JsonSchema, withDefaults = false): ValidateFunction {
  const key = `${withDefaults ? "d" : "p"}${JSON.stringify(schema)}`;
  let fn = cache.get(key);
  if (!fn) {
    fn = (withDefaults ? ajvDefaults : ajv).compile(schema);
    cache.set(key, fn);
  }
  return fn;
}

/** Nodes a user-written schema may have: real ones have tens; compiling 30,000 properties took ajv 10 s. */
export const MAX_SCHEMA_NODES = 2000;

/** Whether `value` has more than `max` nodes (objects, arrays and scalars), counted without recursion. */
function exceedsNodes(value: unknown, max: number): boolean {
  const stack: unknown[] = [value];
  let n = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    if (++n > max) return true;
    if (v !== null && typeof v === "object") for (const child of Object.values(v)) stack.push(child);
  }
  return false;
}

/** Problems with a user-written schema itself (e.g. a workflow's `params`), or [] if it is valid. */
export function schemaErrors(schema: JsonSchema): string[] {
  if (exceedsNodes(schema, MAX_SCHEMA_NODES)) return [`the schema has more than ${MAX_SCHEMA_NODES} nodes; the limit keeps checking requests fast`];
  try {
    if (!ajv.validateSchema(schema)) return (ajv.errors ?? []).map((e) => `${e.instancePath || "schema"} ${e.message}`);
    compileSchema(schema);
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

export interface SchemaIssue {
  /** Path of the node to point at, relative to the validated value. */
  path: PathSegment[];
  which: "key" | "value";
  message: string;
}

function pointerToPath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === "") return [];
  const out: PathSegment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const next: PathSegment = Array.isArray(cur) && /^\d+$/.test(seg) ? Number(seg) : seg;
    out.push(next);
    cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

function valueAt(data: unknown, path: PathSegment[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

const label = (path: PathSegment[], root: string): string =>
  [root, ...path].filter((x) => x !== "").join(".") || "document";

const NO_EXPRESSION_PATTERN = "\\$\\{\\{";

function forbidsExpressions(e: ErrorObject): boolean {
  return e.keyword === "not" && (e.schema as { pattern?: unknown } | undefined)?.pattern === NO_EXPRESSION_PATTERN;
}

function describe(e: ErrorObject, path: PathSegment[], root: string): SchemaIssue {
  const where = label(path, root);
  if (forbidsExpressions(e)) {
    return { path, which: "value", message: `${where} must be fixed text: a \${{ … }} expression here would splice data into it; pass values separately (e.g. as parameters)` };
  }
  switch (e.keyword) {
    case "additionalProperties": {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const props = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const hint = closest(key, props);
      const known = props.length ? ` (known keys: ${props.join(", ")})` : "";
      return {
        path: [...path, key],
        which: "key",
        message: `unknown key "${key}" in ${where}${hint ? `; did you mean "${hint}"?` : known}`,
      };
    }
    case "required":
      return {
        path,
        which: path.length ? "key" : "value",
        message: `missing required key "${(e.params as { missingProperty: string }).missingProperty}" in ${where}`,
      };
    case "const":
      return { path, which: "value", message: `${where} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` };
    case "enum":
      return {
        path,
        which: "value",
        message: `${where} must be one of: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(", ")}`,
      };
    case "type":
      return { path, which: "value", message: `${where} must be ${(e.params as { type: string }).type}` };
    case "pattern": {
      const pattern = (e.params as { pattern: string }).pattern;
      const isDuration = pattern.includes("(ms|s|m|h|d)");
      return {
        path,
        which: "value",
        message: isDuration
          ? `${where} is not a duration; write e.g. 500ms, 30s, 5m, 4h or 1d`
          : `${where} does not match the pattern ${pattern}`,
      };
    }
    default:
      return { path, which: "value", message: `${where} ${e.message ?? "is invalid"}` };
  }
}

export interface CheckOptions {
  /** Skip errors on values that hold a `${{ … }}` expression (their type is known only at run time). */
  allowExpressions?: boolean;
  /** How messages name the validated value's root (default "document"). */
  root?: string;
  /** Fill in the schema's `default:` values — this mutates `data`, so pass a copy. */
  applyDefaults?: boolean;
}

/** Validate `data` against `schema`; each error becomes an issue with the path of the node to blame. */
export function checkAgainstSchema(schema: JsonSchema, data: unknown, opts: CheckOptions = {}): SchemaIssue[] {
  const validate = compileSchema(schema, opts.applyDefaults);
  if (validate(data)) return [];
  const issues: SchemaIssue[] = [];
  const seen = new Set<string>();
  for (const e of validate.errors ?? []) {
    // anyOf/oneOf report every branch plus a summary; the branch errors say more.
    if (e.keyword === "anyOf" || e.keyword === "oneOf" || e.keyword === "if") continue;
    const path = pointerToPath(e.instancePath, data);
    if (opts.allowExpressions) {
      const v = valueAt(data, path);
      // A field whose schema forbids expressions (`not: { pattern: "\\$\\{\\{" }`, e.g. postgres.sql's
      // `sql`) is fixed text: substitution would splice data into it, so that error stands.
      if (typeof v === "string" && hasExpression(v) && !forbidsExpressions(e)) continue;
    }
    const issue = describe(e, path, opts.root ?? "");
    const key = `${issue.path.join("\u0000")}|${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}
