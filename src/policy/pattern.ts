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

export interface CompiledPattern {
  test(path: string): boolean;
  /** Where a matcher may file this pattern so it is only tried on likely paths. */
  index: PatternIndex;
}

const WILD = /[*?]/;

function segmentSource(seg: string): string {
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
  return seg.replace(/\\(.)/g, "$1");
}

/** Returns the compiled pattern, or an error message for an unsupported one. */
export function compilePattern(pattern: string): CompiledPattern | string {
  if (/(^|[^\\])[[\]]/.test(pattern)) return `character ranges ("[ ]") are not supported in CODEOWNERS: "${pattern}"`;
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
    // `/` alone would own nothing in gitignore terms; GitHub treats it as an error.
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
  const last = segs[segs.length - 1]!;
  let src = anchored && !floatingLead ? "^" : "^(?:.*/)?";
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const isLast = i === segs.length - 1;
    if (seg === "**") {
      if (isLast) {
        // `x/**` (or `**` alone): everything below.
        src += i === 0 ? ".+" : "/.+";
        return finish(new RegExp(src + "$"), anchored, floatingLead, segs);
      }
      // `a/**/b`: zero or more directories in between.
      src += i === 0 ? "(?:.*/)?" : "(?:/.*)?/";
      continue;
    }
    if (i > 0 && segs[i - 1] !== "**") src += "/";
    src += segmentSource(seg);
  }
  if (dirOnly) src += "/.+";
  else if (last !== "*") src += "(?:/.+)?";
  return finish(new RegExp(src + "$"), anchored, floatingLead, segs);
}

function finish(re: RegExp, anchored: boolean, floatingLead: boolean, segs: string[]): CompiledPattern {
  return { test: (p) => re.test(p), index: indexFor(anchored && !floatingLead, segs) };
}

function indexFor(anchored: boolean, segs: string[]): PatternIndex {
  if (anchored) {
    const prefix: string[] = [];
    for (const seg of segs) {
      if (WILD.test(seg)) break;
      prefix.push(unescape(seg));
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
