/**
 * `${{ … }}` expressions. They are references, not code: a root (`params`,
 * `steps`, `request`) and a path. Substitution produces data — a whole-string
 * expression keeps the referenced value's type, an embedded one is stringified —
 * and is never spliced into shell or SQL text by the engine.
 */

export const EXPRESSION_ROOTS = ["params", "steps", "request"] as const;
export type ExpressionRoot = (typeof EXPRESSION_ROOTS)[number];

/** Fields of the `request` root available to expressions. */
export const REQUEST_FIELDS = [
  "path", "reason", "workflow", "repository", "pullRequest", "commit", "requester", "approvers", "runId", "breakGlass",
] as const;

export interface ExpressionRef {
  root: ExpressionRoot;
  path: (string | number)[];
  /** The text between `${{` and `}}`, trimmed. */
  source: string;
  /** Offset of `${{` within the template string. */
  offset: number;
}

export type TemplatePart = string | ExpressionRef;

export class ExpressionError extends Error {
  constructor(message: string, readonly offset = 0) {
    super(message);
    this.name = "ExpressionError";
  }
}

const IDENT = /[A-Za-z_][A-Za-z0-9_-]*/y;

function parsePath(src: string, base: number): ExpressionRef {
  const text = src.trim();
  const path: (string | number)[] = [];
  let i = 0;
  const ident = (): string => {
    IDENT.lastIndex = i;
    const m = IDENT.exec(text);
    if (!m) throw new ExpressionError(`expected a name at "${text.slice(i) || "<end>"}" in \${{ ${text} }}`, base);
    i = IDENT.lastIndex;
    return m[0];
  };
  const root = ident();
  if (!(EXPRESSION_ROOTS as readonly string[]).includes(root)) {
    throw new ExpressionError(`unknown expression root "${root}" (expected params, steps or request)`, base);
  }
  while (i < text.length) {
    const c = text[i];
    if (c === ".") {
      i++;
      path.push(ident());
    } else if (c === "[") {
      const close = text.indexOf("]", i);
      if (close < 0) throw new ExpressionError(`unclosed "[" in \${{ ${text} }}`, base);
      const inner = text.slice(i + 1, close).trim();
      if (/^\d+$/.test(inner)) path.push(Number(inner));
      else if (/^'[^']*'$/.test(inner) || /^"[^"]*"$/.test(inner)) path.push(inner.slice(1, -1));
      else throw new ExpressionError(`index must be a number or a quoted key, got [${inner}]`, base);
      i = close + 1;
    } else {
      throw new ExpressionError(
        `unexpected "${text.slice(i)}" in \${{ ${text} }}: expressions are references like params.name, not code`,
        base,
      );
    }
  }
  const ref: ExpressionRef = { root: root as ExpressionRoot, path, source: text, offset: base };
  if (ref.root === "steps") {
    if (path.length < 3 || path[1] !== "outputs" || typeof path[0] !== "string") {
      throw new ExpressionError(`step references take the form steps.<id>.outputs.<name>, got ${text}`, base);
    }
  } else if (ref.root === "request") {
    const field = path[0];
    if (typeof field !== "string" || !(REQUEST_FIELDS as readonly string[]).includes(field)) {
      throw new ExpressionError(`unknown request field in ${text} (known: ${REQUEST_FIELDS.join(", ")})`, base);
    }
  } else if (path.length === 0) {
    throw new ExpressionError(`name a parameter: params.<name>`, base);
  }
  return ref;
}

/** Split a string into literal text and expression references. */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let pos = 0;
  while (pos < text.length) {
    const open = text.indexOf("${{", pos);
    if (open < 0) {
      parts.push(text.slice(pos));
      break;
    }
    if (open > pos) parts.push(text.slice(pos, open));
    const close = text.indexOf("}}", open + 3);
    if (close < 0) throw new ExpressionError(`unclosed "\${{" (missing "}}")`, open);
    parts.push(parsePath(text.slice(open + 3, close), open));
    pos = close + 2;
  }
  return parts;
}

export function hasExpression(text: string): boolean {
  return text.includes("${{");
}

export interface FoundExpression {
  ref: ExpressionRef;
  /** Where in the value the string holding it sits, e.g. ["with", "role"]. */
  at: (string | number)[];
}

/** Every expression inside a nested value. Throws ExpressionError (with `at` attached) on a malformed one. */
export function findExpressions(value: unknown, at: (string | number)[] = []): FoundExpression[] {
  const out: FoundExpression[] = [];
  const walk = (v: unknown, p: (string | number)[]): void => {
    if (typeof v === "string") {
      if (!hasExpression(v)) return;
      try {
        for (const part of parseTemplate(v)) if (typeof part !== "string") out.push({ ref: part, at: p });
      } catch (e) {
        if (e instanceof ExpressionError) (e as ExpressionError & { at?: unknown }).at = p;
        throw e;
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(value, at);
  return out;
}

export interface ExpressionScope {
  params: Record<string, unknown>;
  steps: Record<string, { outputs: Record<string, unknown> }>;
  request: Record<string, unknown>;
}

/**
 * Follow a reference through own properties only (never a prototype's, so
 * `params.constructor` resolves to nothing). `missing` names the first key not found.
 */
export function resolveRef(
  ref: ExpressionRef,
  scope: Partial<Record<ExpressionRoot, unknown>>,
): { found: true; value: unknown } | { found: false; missing: string } {
  let cur: unknown = scope[ref.root];
  for (const key of ref.path) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, key)) {
      return { found: false, missing: String(key) };
    }
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return { found: true, value: cur };
}

function lookup(ref: ExpressionRef, scope: ExpressionScope): unknown {
  const r = resolveRef(ref, scope);
  if (!r.found) throw new ExpressionError(`\${{ ${ref.source} }} does not resolve: no "${r.missing}"`, ref.offset);
  return r.value;
}

function render(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === undefined) return "";
  return JSON.stringify(v);
}

/** Resolve one string. A string that is exactly one expression keeps the value's type. */
export function substituteString(text: string, scope: ExpressionScope): unknown {
  if (!hasExpression(text)) return text;
  const parts = parseTemplate(text);
  if (parts.length === 1 && typeof parts[0] !== "string") return lookup(parts[0]!, scope);
  return parts.map((p) => (typeof p === "string" ? p : render(lookup(p, scope)))).join("");
}

/** Deep-substitute every expression in a value. The input is not modified. */
export function substitute<T>(value: T, scope: ExpressionScope): unknown {
  if (typeof value === "string") return substituteString(value, scope);
  if (Array.isArray(value)) return value.map((v) => substitute(v, scope));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, scope);
    return out;
  }
  return value;
}

/** Step ids a value's expressions read outputs from. */
export function referencedSteps(value: unknown): Set<string> {
  return new Set(findExpressions(value).filter((f) => f.ref.root === "steps").map((f) => f.ref.path[0] as string));
}
