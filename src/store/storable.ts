/**
 * What Postgres can store. jsonb and text refuse U+0000 and unpaired UTF-16
 * surrogates, and deeply nested values overflow a stack on the way in or out. A
 * value that breaks those rules would fail the transaction that records it — and a
 * result that can never be recorded is re-run on every lease expiry. So requests
 * and step outputs are checked before they reach SQL, and messages are cleaned.
 */

/** Nesting deeper than this is refused in params and outputs (no real request needs it). */
export const MAX_JSON_DEPTH = 64;
/** A step's plain outputs, as JSON. Larger results belong in an external store, referenced by URL. */
export const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// lint-regex: allow — the source of the literal on the line above, which the lint checks
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");

function textProblem(s: string): string | null {
  if (s.includes("\u0000")) return "contains a NUL character (U+0000)";
  if (LONE_SURROGATE.test(s)) return "contains an unpaired UTF-16 surrogate (not valid Unicode)";
  return null;
}

function describePath(path: string): string {
  if (path === "") return "the value";
  return `"${path.length > 80 ? `${path.slice(0, 40)}…${path.slice(-30)}` : path}"`;
}

/**
 * Why `value` cannot be stored as jsonb, or null if it can. Walks at most
 * MAX_JSON_DEPTH levels, so a cyclic or absurdly deep value is refused, not overflowed.
 */
export function jsonProblem(value: unknown, path = ""): string | null {
  const open = new Set<object>();
  const walk = (v: unknown, p: string, depth: number): string | null => {
    if (depth > MAX_JSON_DEPTH) return `${describePath(p)} is nested more than ${MAX_JSON_DEPTH} levels deep`;
    switch (typeof v) {
      case "string": {
        const t = textProblem(v);
        return t ? `${describePath(p)} ${t}` : null;
      }
      case "number":
      case "boolean":
      case "undefined":
        return null;
      case "bigint":
        return `${describePath(p)} is a BigInt, which JSON cannot carry`;
      case "function":
      case "symbol":
        return null; // JSON leaves these out, as it always has
      case "object": {
        if (v === null) return null;
        if (typeof (v as { toJSON?: unknown }).toJSON === "function") return walk((v as { toJSON(): unknown }).toJSON(), p, depth);
        if (open.has(v)) return `${describePath(p)} contains itself (a cycle)`;
        open.add(v);
        try {
          const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
          for (const [k, x] of entries) {
            const kp = p === "" ? k : `${p}.${k}`;
            const kt = textProblem(k);
            if (kt) return `key ${describePath(kp)} ${kt}`;
            const inner = walk(x, kp, depth + 1);
            if (inner) return inner;
          }
          return null;
        } finally {
          open.delete(v);
        }
      }
      default:
        return null;
    }
  };
  return walk(value, path, 0);
}

/** A message made safe to store: NUL and unpaired surrogates become U+FFFD. */
export function storableText(s: string): string {
  return s.replace(/\u0000/g, "\uFFFD").replace(LONE_SURROGATES, "\uFFFD");
}

/**
 * A JSON value made storable: every string, keys included, through storableText.
 * For values the app stores as it received them (a webhook payload, whose texts
 * a pull request's author writes) and must store whatever they hold.
 */
export function storableJson(value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), storableJson(v)]));
  }
  return value;
}

/** Cut `s` to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncateText(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut;
}
