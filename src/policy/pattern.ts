/**
 * One CODEOWNERS pattern compiled to a test over repository-relative file
 * paths. gitignore rules as GitHub applies them:
 *  - a leading `/` or a `/` inside the pattern anchors it at the root;
 *    otherwise it matches at any depth;
 *  - a trailing `/` matches only what is inside a directory;
 *  - a pattern matching a directory also matches everything below it,
 *    except when its last segment is a lone `*` (`docs/*` is direct children only);
 *  - `*` and `?` never cross `/`; `**` spans directories as a whole segment
 *    (`**\/x`, `x/**`, `a/**\/b`) and is a plain `*` elsewhere;
 *  - `[ ]` ranges are not supported by GitHub and are reported.
 * Paths are case-sensitive.
 */

export type PatternIndex =
  | { kind: "anchored"; prefix: string[] }
  | { kind: "name"; value: string }
  | { kind: "extension"; value: string }
  | { kind: "general" };

/**
 * Shortcuts a matcher may take instead of the regular expression, valid only
 * when the pattern was found through its index entry:
 *  - `literal`: anchored, each segment literal or a lone `*` (which the index
 *    files under ANY_SEGMENT); reaching its trie node means it matches, except
 *    that `dirOnly` needs one more path segment and `exactOnly` (a trailing
 *    lone `*`) none;
 *  - `name`: floating literal name; matches wherever a segment equals it;
 *  - `suffix`: floating `*<literal>`; matches a segment ending in `suffix`.
 */
export type PatternShortcut =
  | { kind: "literal"; dirOnly: boolean; exactOnly: boolean }
  | { kind: "name"; dirOnly: boolean }
  | { kind: "suffix"; suffix: string; dirOnly: boolean }
  | { kind: "none" };

export interface CompiledPattern {
  test(path: string): boolean;
  /** The same test on a path already split at `/`. */
  testSegments(segments: readonly string[]): boolean;
  /** An equivalent regular expression (reference semantics, for tests). */
  toRegExp(): RegExp;
  /** Where a matcher may file this pattern so it is only tried on likely paths. */
  index: PatternIndex;
  shortcut: PatternShortcut;
  /**
   * The longest literal run of the pattern: every path it matches contains
   * this text, so a path without it is rejected without running the match.
   * Empty when the pattern has no literal characters.
   */
  needle: string;
  /** The fewest path segments a matching path can have. */
  minSegments: number;
}

const WILD = /[*?]/;

/** Trie key for a lone `*` segment, which matches any one path segment. */
export const ANY_SEGMENT = "\u0000*";

function segmentSource(seg: string): string {
  if (!WILD.test(seg) && !seg.includes("\\")) return escapeRegex(seg);
  let out = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "*") {
      while (seg[i + 1] === "*") i++;
      out += "[^/]*";
    } else if (c === "?") {
      out += "[^/]";
    } else if (c === "\\" && i + 1 < seg.length) {
      i++;
      out += escapeRegex(seg[i]!);
    } else {
      out += escapeRegex(c);
    }
  }
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function unescape(seg: string): string {
  if (!seg.includes("\\")) return seg;
  return seg.replace(/\\(.)/g, "$1");
}

/** Returns the compiled pattern, or an error message for an unsupported one. */
export function compilePattern(pattern: string): CompiledPattern | string {
  if ((pattern.includes("[") || pattern.includes("]")) && /(^|[^\\])[[\]]/.test(pattern)) return `character ranges ("[ ]") are not supported in CODEOWNERS: "${pattern}"`;
  let body = pattern;
  let anchored = false;
  if (body.startsWith("/")) {
    anchored = true;
    body = body.slice(1);
  }
  let dirOnly = false;
  if (body.endsWith("/") && !body.endsWith("\\/")) {
    dirOnly = true;
    body = body.slice(0, -1);
  }
  if (body === "") {
    // `/` alone names no file; reporting it beats guessing what was meant.
    return `pattern "${pattern}" matches nothing`;
  }
  if (body.includes("//")) return `pattern "${pattern}" has an empty path segment`;
  const segs = body.split("/");
  if (segs.length > 1) anchored = true;
  // `**/x` with nothing else anchoring it is the same as a floating `x`.
  let floatingLead = false;
  if (segs[0] === "**" && segs.length > 1) {
    segs.shift();
    floatingLead = true;
  }
  return finish(segs, anchored, floatingLead, dirOnly);
}

function regexSource(segs: string[], anchored: boolean, floatingLead: boolean, dirOnly: boolean): string {
  let src = anchored && !floatingLead ? "^" : "^(?:.*/)?";
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg === "**") {
      // `x/**` (or `**` alone): everything below.
      if (i === segs.length - 1) return src + (i === 0 || segs[i - 1] === "**" ? ".+$" : "/.+$");
      // `a/**/b`: zero or more directories in between.
      src += i === 0 ? "(?:.*/)?" : "(?:/.*)?/";
      continue;
    }
    if (i > 0 && segs[i - 1] !== "**") src += "/";
    src += segmentSource(seg);
  }
  if (dirOnly) return src + "/.+$";
  return segs[segs.length - 1] === "*" ? src + "$" : src + "(?:/.+)?$";
}

/** One pattern segment as tokens: a literal character, `?` (one char) or `*` (any run). */
type Glob = (string | 1 | 2)[];
const ONE = 1;
const RUN = 2;

function toGlob(seg: string): Glob {
  const out: Glob = [];
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "*") {
      while (seg[i + 1] === "*") i++;
      out.push(RUN);
    } else if (c === "?") out.push(ONE);
    else if (c === "\\" && i + 1 < seg.length) out.push(seg[++i]!);
    else out.push(c);
  }
  return out;
}

/**
 * Wildcard match of one path segment, backtracking only to the last `*`:
 * O(pattern × text) at worst, so a hostile file name cannot make it blow up
 * the way a backtracking regular expression can.
 */
function globMatch(g: Glob, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const tok = g[p];
    if (tok === RUN) {
      starP = p++;
      starT = t;
    } else if (tok !== undefined && (tok === ONE || tok === text[t])) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else return false;
  }
  while (g[p] === RUN) p++;
  return p === g.length;
}

/** `**` as a whole segment. */
const GLOBSTAR = 0;

class Pattern implements CompiledPattern {
  readonly index: PatternIndex;
  readonly shortcut: PatternShortcut;
  readonly needle: string;
  readonly minSegments: number;
  // Built on first use: with the index, most patterns of a large file never run.
  private globs: (Glob | typeof GLOBSTAR)[] | null = null;
  private readonly floating: boolean;
  private readonly lastIsStar: boolean;

  constructor(
    private readonly segs: string[],
    private readonly anchored: boolean,
    private readonly floatingLead: boolean,
    private readonly dirOnly: boolean,
  ) {
    const isAnchored = anchored && !floatingLead;
    this.floating = !isAnchored;
    this.index = indexFor(isAnchored, segs);
    this.shortcut = shortcutFor(isAnchored, segs, dirOnly);
    this.lastIsStar = segs[segs.length - 1] === "*";
    this.needle = longestLiteral(segs);
    this.minSegments = segs.filter((seg) => seg !== "**").length + (dirOnly || segs[segs.length - 1] === "**" ? 1 : 0);
  }

  test(path: string): boolean {
    return this.testSegments(path.split("/"));
  }

  /**
   * Tracks the set of path positions the pattern can have consumed up to,
   * segment by segment, so `**` never causes exponential search.
   */
  testSegments(path: readonly string[]): boolean {
    const n = path.length;
    const globs = (this.globs ??= this.segs.map((seg) => (seg === "**" ? GLOBSTAR : toGlob(seg))));
    if (globs.length === 1 && globs[0] === GLOBSTAR) return n > 0 && path[0] !== "";
    // reach[i]: the pattern so far can end right before path segment i.
    let reach = new Uint8Array(n + 1);
    if (this.floating) reach.fill(1, 0, n);
    else reach[0] = 1;
    for (let k = 0; k < globs.length; k++) {
      const g = globs[k]!;
      const next = new Uint8Array(n + 1);
      let any = false;
      if (g === GLOBSTAR) {
        if (k === globs.length - 1) {
          // `x/**`: at least one more segment below.
          for (let i = 0; i < n; i++) if (reach[i]) return true;
          return false;
        }
        // Zero or more whole segments.
        let from = -1;
        for (let i = 0; i <= n; i++) if (reach[i]) { from = i; break; }
        if (from < 0) return false;
        next.fill(1, from, n + 1);
        any = true;
      } else {
        for (let i = 0; i < n; i++) {
          if (reach[i] && globMatch(g, path[i]!)) {
            next[i + 1] = 1;
            any = true;
          }
        }
      }
      if (!any) return false;
      reach = next;
    }
    if (this.dirOnly) {
      for (let i = 0; i < n; i++) if (reach[i]) return true;
      return false;
    }
    // A trailing lone `*` matches direct children only; otherwise a matched
    // directory covers everything below it.
    if (this.lastIsStar) return reach[n] === 1;
    for (let i = 0; i <= n; i++) if (reach[i]) return true;
    return false;
  }

  /** An equivalent regular expression: the reference the tests check the matcher against. */
  toRegExp(): RegExp {
    // lint-regex: allow — a reference for tests only; matching uses the linear matcher above
    return new RegExp(regexSource(this.segs, this.anchored, this.floatingLead, this.dirOnly));
  }
}

function longestLiteral(segs: readonly string[]): string {
  let best = "";
  for (const seg of segs) {
    if (seg === "**") continue;
    let run = "";
    for (const tok of toGlob(seg)) {
      if (typeof tok === "string") {
        run += tok;
        if (run.length > best.length) best = run;
      } else run = "";
    }
  }
  return best;
}

function finish(segs: string[], anchored: boolean, floatingLead: boolean, dirOnly: boolean): Pattern {
  return new Pattern(segs, anchored, floatingLead, dirOnly);
}

function plain(seg: string): boolean {
  return !WILD.test(seg) && !seg.includes("\\");
}

function shortcutFor(anchored: boolean, segs: string[], dirOnly: boolean): PatternShortcut {
  if (anchored) {
    const ok = segs.every((seg) => seg === "*" || plain(seg));
    return ok ? { kind: "literal", dirOnly, exactOnly: !dirOnly && segs[segs.length - 1] === "*" } : { kind: "none" };
  }
  if (segs.length !== 1) return { kind: "none" };
  const seg = segs[0]!;
  if (plain(seg)) return { kind: "name", dirOnly };
  if (seg.startsWith("*") && plain(seg.slice(1)) && seg.slice(1).includes(".")) return { kind: "suffix", suffix: seg.slice(1), dirOnly };
  return { kind: "none" };
}

function indexFor(anchored: boolean, segs: string[]): PatternIndex {
  if (anchored) {
    const prefix: string[] = [];
    for (const seg of segs) {
      if (seg === "*") prefix.push(ANY_SEGMENT);
      else if (WILD.test(seg)) break;
      else prefix.push(unescape(seg));
    }
    return { kind: "anchored", prefix };
  }
  if (segs.length !== 1) return { kind: "general" };
  const seg = segs[0]!;
  if (!WILD.test(seg)) return { kind: "name", value: unescape(seg) };
  // `*.ext` style: the literal tail after the last wildcard holds the extension.
  const tailStart = Math.max(seg.lastIndexOf("*"), seg.lastIndexOf("?")) + 1;
  const tail = seg.slice(tailStart);
  const dot = tail.lastIndexOf(".");
  if (dot >= 0 && !tail.includes("\\")) return { kind: "extension", value: tail.slice(dot + 1) };
  return { kind: "general" };
}
