/**
 * CODEOWNERS as GitHub documents it ("About code owners"): gitignore-style
 * patterns with GitHub's exceptions, the last matching line wins, a pattern
 * without owners un-owns. The file is compiled once into a matcher; matching
 * a path consults an index instead of every line, so large files stay fast.
 */
import { ANY_SEGMENT, compilePattern, type CompiledPattern } from "./pattern.js";

/** GitHub refuses to load a CODEOWNERS file of 3 MB or more. */
export const CODEOWNERS_MAX_BYTES = 3 * 1024 * 1024;

/** Where GitHub looks, in order; the first file found wins. */
export const CODEOWNERS_LOCATIONS = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"] as const;

export type OwnerKind = "user" | "team" | "email";

export interface Owner {
  kind: OwnerKind;
  /** As written, e.g. `@octocat`, `@octo-org/octocats`, `docs@example.com`. */
  text: string;
}

export interface CodeownersRule {
  /** 1-based line number in the file. */
  line: number;
  pattern: string;
  owners: Owner[];
  /** The line as written, trimmed, for explanations. */
  source: string;
}

/**
 * One problem, in the fields of GitHub's "List CODEOWNERS errors" API (minus
 * `path`, which the caller knows): line and column, the kind of error, the
 * offending line as written, and a suggestion where one helps.
 */
export interface CodeownersError {
  line: number;
  column: number;
  kind: "Invalid pattern" | "Invalid owner" | "File too large";
  /** The line as written (for a file too large: empty). */
  source: string;
  message: string;
  suggestion: string | null;
}

export interface OwnerMatch {
  owners: string[];
  /** The deciding line, or null when no line matches (the path is unowned). */
  line: number | null;
  rule: CodeownersRule | null;
}

export interface CodeownersMatcher {
  rules: readonly CodeownersRule[];
  /** Lines GitHub's error view would flag; they are skipped, as GitHub skips them. */
  errors: readonly CodeownersError[];
  match(path: string): OwnerMatch;
}

// GitHub logins: alphanumerics and single inner hyphens, up to 39 characters.
const USER = /^@[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const TEAM = /^@[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const EMAIL = /^[^@\s]+@[^@\s][^@\s.]*\.[^@\s]+$/;

/** No login, team slug or e-mail address is longer; the bound keeps the e-mail pattern linear on hostile tokens. */
const MAX_OWNER_LENGTH = 256;

export function parseOwner(text: string): Owner | null {
  if (text.length > MAX_OWNER_LENGTH) return null;
  if (TEAM.test(text)) return { kind: "team", text };
  if (USER.test(text)) return { kind: "user", text };
  if (EMAIL.test(text)) return { kind: "email", text };
  return null;
}

/** First of GitHub's locations for which `exists` answers true, or null. */
export function findCodeownersPath(exists: (path: string) => boolean): string | null {
  for (const p of CODEOWNERS_LOCATIONS) if (exists(p)) return p;
  return null;
}

/** Whitespace other than space and tab, and control characters: never part of a real path pattern. */
const ODD_CHAR = /[\s\u0000-\u001f\u007f\u200b-\u200d\u2060\ufeff]/u;

interface Token {
  text: string;
  column: number;
}

/** Splits on unescaped whitespace; `\ ` keeps a space inside a pattern. */
function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  if (!line.includes("\\")) {
    // The common case, without per-character string building.
    const re = /[^ \t]+/g;
    for (let m = re.exec(line); m; m = re.exec(line)) tokens.push({ text: m[0], column: m.index + 1 });
    return tokens;
  }
  let i = 0;
  while (i < line.length) {
    while (i < line.length && (line[i] === " " || line[i] === "\t")) i++;
    if (i >= line.length) break;
    const start = i;
    let text = "";
    while (i < line.length && line[i] !== " " && line[i] !== "\t") {
      if (line[i] === "\\" && i + 1 < line.length && (line[i + 1] === " " || line[i + 1] === "\t")) {
        text += "\\" + line[i + 1];
        i += 2;
      } else {
        text += line[i];
        i++;
      }
    }
    tokens.push({ text, column: start + 1 });
  }
  return tokens;
}

interface CompiledRule {
  rule: CodeownersRule;
  index: number;
  pattern: CompiledPattern;
}

class TrieNode {
  children = new Map<string, TrieNode>();
  rules: number[] = [];
}

class Matcher implements CodeownersMatcher {
  readonly rules: CodeownersRule[] = [];
  readonly errors: CodeownersError[] = [];
  private readonly compiled: CompiledRule[] = [];
  // Anchored patterns are filed under their leading literal directories.
  private readonly anchored = new TrieNode();
  // Floating single-segment patterns: by literal name, or by extension for `*.ext`.
  private readonly byName = new Map<string, number[]>();
  private readonly byExtension = new Map<string, number[]>();
  // Everything else is tried for every path; realistic files keep this short.
  private readonly general: number[] = [];

  add(rule: CodeownersRule, pattern: CompiledPattern): void {
    const index = this.compiled.length;
    this.rules.push(rule);
    this.compiled.push({ rule, index, pattern });
    const key = pattern.index;
    if (key.kind === "anchored") {
      let node = this.anchored;
      for (const seg of key.prefix) {
        let next = node.children.get(seg);
        if (!next) node.children.set(seg, (next = new TrieNode()));
        node = next;
      }
      node.rules.push(index);
    } else if (key.kind === "name") {
      push(this.byName, key.value, index);
    } else if (key.kind === "extension") {
      push(this.byExtension, key.value, index);
    } else {
      this.general.push(index);
    }
  }

  match(path: string): OwnerMatch {
    const clean = path.startsWith("/") ? path.slice(1) : path;
    const rules = this.compiled;
    let best = -1;
    const segments = clean.split("/");
    const n = segments.length;
    // Candidate lists are in line order: scan each from its end and stop at
    // the first hit or at a line no later than the best found so far.
    for (let k = this.general.length - 1; k >= 0; k--) {
      const i = this.general[k]!;
      if (i <= best) break;
      const c = rules[i]!.pattern;
      // Cheap rejection first: a file of thousands of wildcard lines would
      // otherwise cost a full match per line for every path.
      if (n < c.minSegments || (c.needle.length > 0 && !clean.includes(c.needle))) continue;
      if (c.testSegments(segments)) {
        best = i;
        break;
      }
    }
    // Anchored patterns: walk the trie along the path, following literal edges
    // and lone-`*` edges; the set of live nodes stays small in practice.
    let live: TrieNode[] = [this.anchored];
    best = this.scanAnchored(this.anchored.rules, 0, clean, segments, best);
    for (let j = 0; j < n; j++) {
      const seg = segments[j]!;
      const inner = j < n - 1;
      const named = this.byName.get(seg);
      if (named) {
        for (let k = named.length - 1; k >= 0; k--) {
          const i = named[k]!;
          if (i <= best) break;
          const c = rules[i]!.pattern;
          const ok = c.shortcut.kind === "name" ? inner || !c.shortcut.dirOnly : c.testSegments(segments);
          if (ok) {
            best = i;
            break;
          }
        }
      }
      const dot = seg.lastIndexOf(".");
      const byExt = dot >= 0 ? this.byExtension.get(seg.slice(dot + 1)) : undefined;
      if (byExt) {
        for (let k = byExt.length - 1; k >= 0; k--) {
          const i = byExt[k]!;
          if (i <= best) break;
          const c = rules[i]!.pattern;
          const sc = c.shortcut;
          const ok = sc.kind === "suffix" ? seg.endsWith(sc.suffix) && (inner || !sc.dirOnly) : c.testSegments(segments);
          if (ok) {
            best = i;
            break;
          }
        }
      }
      if (live.length > 0) {
        const next: TrieNode[] = [];
        for (const node of live) {
          const exact = node.children.get(seg);
          if (exact) next.push(exact);
          const any = node.children.get(ANY_SEGMENT);
          if (any) next.push(any);
        }
        for (const node of next) best = this.scanAnchored(node.rules, j + 1, clean, segments, best);
        live = next;
      }
    }
    if (best < 0) return { owners: [], line: null, rule: null };
    const rule = rules[best]!.rule;
    return { owners: rule.owners.map((o) => o.text), line: rule.line, rule };
  }

  /** Anchored rules filed at a trie node `depth` segments down the path. */
  private scanAnchored(list: readonly number[], depth: number, path: string, segments: readonly string[], best: number): number {
    const n = segments.length;
    for (let k = list.length - 1; k >= 0; k--) {
      const i = list[k]!;
      if (i <= best) break;
      const c = this.compiled[i]!.pattern;
      const sc = c.shortcut;
      const ok =
        sc.kind === "literal"
          ? sc.dirOnly
            ? depth < n
            : !sc.exactOnly || depth === n
          : segments.length >= c.minSegments && (c.needle.length === 0 || path.includes(c.needle)) && c.testSegments(segments);
      if (ok) return i;
    }
    return best;
  }
}

function push(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The error for a file GitHub refuses for its size; also used by callers that check the size before reading. */
export function oversizeError(bytes: number): CodeownersError {
  return {
    line: 1,
    column: 1,
    kind: "File too large",
    source: "",
    message: `CODEOWNERS is ${bytes} bytes; GitHub ignores files of 3 MB or more, so no line of it applies`,
    suggestion: "consolidate entries with wildcard patterns",
  };
}

/**
 * Compiles CODEOWNERS text. Never throws on content: each bad line becomes an
 * error with its line and column and is left out, as GitHub leaves it out.
 * A file over the size limit yields no rules and one error, as GitHub refuses it.
 */
export function compileCodeowners(text: string): CodeownersMatcher {
  const m = new Matcher();
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes >= CODEOWNERS_MAX_BYTES) {
    m.errors.push(oversizeError(bytes));
    return m;
  }
  // An editor's byte-order mark would otherwise become part of the first pattern.
  const lines = (text.startsWith("\uFEFF") ? text.slice(1) : text).split(/\r\n|\n|\r/);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const lineNo = n + 1;
    const tokens = tokenize(raw);
    if (tokens.length === 0 || tokens[0]!.text.startsWith("#")) continue;
    const first = tokens[0]!;
    const source = raw.trim();
    const patternError = (message: string, suggestion: string | null = null): void => {
      m.errors.push({ line: lineNo, column: first.column, kind: "Invalid pattern", source, message, suggestion });
    };
    if (first.text.startsWith("\\#")) {
      patternError(`escaped "#" is not supported in CODEOWNERS; the line would be read as a comment`);
      continue;
    }
    if (first.text.startsWith("!")) {
      patternError(`negation ("!") is not supported in CODEOWNERS`, "to exempt paths, add a later line with the pattern and no owners (or other owners): the last matching line wins");
      continue;
    }
    const odd = ODD_CHAR.exec(first.text.replace(/\\[ \t]/g, ""));
    if (odd) {
      // A no-break space pasted between pattern and owners would glue them into
      // one pattern with no owners, which silently un-owns whatever it matches.
      const code = `U+${odd[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
      patternError(`pattern contains the invisible character ${code}`, "separate the pattern and its owners with plain spaces or tabs");
      continue;
    }
    const compiled = compilePattern(first.text);
    if (typeof compiled === "string") {
      patternError(compiled, first.text === "/" ? "the pattern `/` never matches anything; did you mean `*`?" : null);
      continue;
    }
    const owners: Owner[] = [];
    let bad = false;
    for (const tok of tokens.slice(1)) {
      if (tok.text.startsWith("#")) break; // inline comment
      const owner = parseOwner(tok.text);
      if (!owner) {
        m.errors.push({
          line: lineNo,
          column: tok.column,
          kind: "Invalid owner",
          source,
          message: `invalid owner "${tok.text}": expected @user, @org/team or an email address`,
          suggestion: /^[A-Za-z0-9-]+(\/[A-Za-z0-9_.-]+)?$/.test(tok.text) ? `did you mean "@${tok.text}"?` : null,
        });
        bad = true;
        continue;
      }
      owners.push(owner);
    }
    // A line with an unparseable owner is dropped whole: keeping its valid
    // owners would quietly change who decides, which is worse than no rule.
    if (bad) continue;
    m.add({ line: lineNo, pattern: first.text, owners, source }, compiled);
  }
  return m;
}
