/**
 * Turning the bytes of a YAML file into a value *and* a way to point back at the
 * node any later check complains about. We use the `yaml` package rather than
 * js-yaml because js-yaml cannot give node positions after parsing, and every
 * problem must name the line of the offending node, not of the document.
 *
 * Hostile input is handled here, before anything else sees the value: size limit,
 * strict UTF-8, one document, a mapping at the top, unique keys, and no aliases at
 * all (an alias bomb is refused before expansion, so it costs nothing).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, parseDocument, visit, type Node, type Pair, type YAMLMap } from "yaml";
import { capProblems, type Problem } from "./problems.js";

export const MAX_FILE_BYTES = 1024 * 1024;
/** Deeper than any real request or workflow; deep enough nesting overflows parsers and checkers. */
export const MAX_DEPTH = 64;

export type PathSegment = string | number;

export interface SourceDoc {
  file: string;
  /** The parsed mapping (plain JSON-compatible data). */
  value: Record<string, unknown>;
  /** Position of the node at `path`: the key of a map entry when `key`, otherwise the value. */
  locate(path: readonly PathSegment[], which?: "key" | "value"): { line: number; col: number };
  /**
   * A problem pointing at the node at `path`. With `expression`, at the n-th (0-based)
   * `${{` inside that string node, so an expression deep in a block scalar gets its own line.
   */
  problem(path: readonly PathSegment[], message: string, which?: "key" | "value", expression?: number): Problem;
}

export type ParseResult = { ok: true; doc: SourceDoc } | { ok: false; problems: Problem[] };

/** Line and column (in characters, as editors count them) of a byte offset; the bytes before it are valid UTF-8. */
function positionOfByte(bytes: Uint8Array, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: new TextDecoder().decode(bytes.subarray(lineStart, offset)).length + 1 };
}

/** Line and column of a character offset in decoded text. */
function positionOfChar(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  return { line: before.split("\n").length, col: offset - (before.lastIndexOf("\n") + 1) + 1 };
}

/**
 * True when the text holds only blank and comment lines. A scan, not a regex: the
 * expression this replaces backtracked exponentially in the number of comment lines.
 */
export function isBlankYaml(text: string): boolean {
  // `trimStart` strips exactly what `\s` matches; these are the line ends `.` stops at.
  return text.split(/[\n\r\u2028\u2029]/).every((line) => {
    const rest = line.trimStart();
    return rest === "" || rest.startsWith("#");
  });
}

/**
 * Duplicate keys, one pass with a Set per mapping (the `yaml` package's own
 * `uniqueKeys` compares each key with every earlier one: quadratic per mapping).
 * Scalar keys compare by value, as YAML and `uniqueKeys` do; other keys are never equal.
 */
function duplicateKeyOffsets(root: unknown): number[] {
  const out: number[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          if (seen.has(pair.key.value)) out.push(pair.key.range?.[0] ?? 0);
          else seen.add(pair.key.value);
        }
        stack.push(pair.value);
      }
    }
  }
  return out.sort((a, b) => a - b);
}

/** The lexer's control tokens, which stand for no source text. */
const CONTROL_TOKENS = new Set(["\u{feff}", "\u0002", "\u0018", "\u001f"]);

/**
 * Keys, values and punctuation a file may hold. Real requests have tens and workflows
 * hundreds; the `yaml` parser, linear but slow, spends seconds on a megabyte of short
 * keys, so such a file is refused from the lexer's count before it is parsed.
 */
export const MAX_TOKENS = 50_000;

/**
 * Where the lexer finds the file too big or too deep to parse: the first flow
 * collection (`[`, `{`) nested past twice MAX_DEPTH (nearer the limit, the check on
 * the parsed tree, which counts block levels too, says where), or the token past MAX_TOKENS. The
 * parser spends seconds on a megabyte of `[`; the lexer, stopped there, costs little.
 * Brackets inside scalars and comments are part of one token, so they never count,
 * nor do comments, blanks and line ends.
 */
function lexerLimit(text: string): { offset: number; message: string } | undefined {
  let depth = 0;
  let tokens = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (CONTROL_TOKENS.has(token)) continue;
    const first = token.charCodeAt(0);
    // space, tab, CR, LF, '#'
    if (first !== 0x20 && first !== 0x09 && first !== 0x0d && first !== 0x0a && first !== 0x23) {
      if (++tokens > MAX_TOKENS) return { offset, message: `more than ${MAX_TOKENS} YAML keys, values and punctuation; the limit is ${MAX_TOKENS}` };
    }
    if (token === "[" || token === "{") {
      if (++depth > 2 * MAX_DEPTH) return { offset, message: `YAML nested too deeply to parse; the limit is ${MAX_DEPTH} levels` };
    } else if (token === "]" || token === "}") depth--;
    offset += token.length;
  }
  return undefined;
}

/** Index of the first byte that is not valid UTF-8, or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need = 0;
    let min = 0;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) (need = 1), (min = 0x80);
    else if (b >= 0xe0 && b <= 0xef) (need = 2), (min = 0x800);
    else if (b >= 0xf0 && b <= 0xf4) (need = 3), (min = 0x10000);
    else return i;
    let cp = b & (0xff >> (need + 2));
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

export function parseSource(file: string, input: Uint8Array | string): ParseResult {
  const fail = (line: number, col: number, message: string): ParseResult => ({
    ok: false,
    problems: [{ file, line, col, message }],
  });
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  if (bytes.length > MAX_FILE_BYTES) {
    return fail(1, 1, `file is ${bytes.length} bytes; the limit is ${MAX_FILE_BYTES} bytes (1 MiB)`);
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const pos = positionOfByte(bytes, bad);
    return fail(pos.line, pos.col, `invalid UTF-8 byte 0x${bytes[bad]!.toString(16).padStart(2, "0")}; files must be UTF-8`);
  }
  let text = new TextDecoder("utf-8").decode(bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const nul = text.indexOf("\u0000");
  if (nul >= 0) {
    const pos = positionOfChar(text, nul);
    return fail(pos.line, pos.col, "NUL byte in file; YAML files must be text");
  }
  if (isBlankYaml(text)) return fail(1, 1, "file is empty");
  const limit = lexerLimit(text);
  if (limit) {
    const at = positionOfChar(text, limit.offset);
    return fail(at.line, at.col, limit.message);
  }

  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const pos = (offset: number): { line: number; col: number } => lines.linePos(offset);

  const problems: Problem[] = [];
  const reported = new Set<string>();
  // Nested too deeply to compose: walking for duplicates would only repeat that news.
  const duplicates = doc.errors.some((e) => e.code === "RESOURCE_EXHAUSTION") ? [] : duplicateKeyOffsets(doc.contents);
  const errors: { code: string; pos: [number, number]; linePos?: { line: number; col: number }[]; message: string }[] = [
    ...doc.errors,
    ...duplicates.map((offset) => ({ code: "DUPLICATE_KEY", pos: [offset, offset] as [number, number], message: "" })),
  ];
  for (const err of errors) {
    const at = err.linePos?.[0] ?? pos(err.pos[0]);
    // One syntax error tends to trip several parser rules at the same spot, and a stack
    // overflow several at nearby spots; the first says it.
    const key = err.code === "RESOURCE_EXHAUSTION" ? err.code : `${at.line}:${at.col}`;
    if (reported.has(key)) continue;
    reported.add(key);
    const message =
      err.code === "DUPLICATE_KEY"
        ? "duplicate key: each key may appear once in a mapping"
        : err.code === "MULTIPLE_DOCS"
          ? "more than one YAML document; a file holds exactly one request or workflow"
          : err.code === "RESOURCE_EXHAUSTION"
            ? `YAML nested too deeply to parse; the limit is ${MAX_DEPTH} levels`
            : `malformed YAML: ${err.message.split(" at line")[0]}`;
    problems.push({ file, line: at.line, col: at.col, message });
  }
  let aliases = 0;
  let firstAlias: { line: number; col: number; name: string } | undefined;
  visit(doc, {
    Alias(_key, node) {
      aliases++;
      firstAlias ??= { ...pos(node.range?.[0] ?? 0), name: node.source };
    },
  });
  if (firstAlias) {
    // One problem per file, not per alias: an alias bomb must not become an output bomb.
    const more = aliases > 1 ? ` (${aliases - 1} more alias${aliases > 2 ? "es" : ""} in this file)` : "";
    problems.push({
      file,
      line: firstAlias.line,
      col: firstAlias.col,
      message: `YAML alias *${firstAlias.name} is not allowed: write the value out in full${more}`,
    });
  }
  if (problems.length === 0) {
    // Iterative, so that the check itself cannot overflow the stack it protects.
    const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 1 }];
    while (stack.length > 0) {
      const { node, depth } = stack.pop()!;
      if (!isMap(node) && !isSeq(node)) continue;
      if (depth > MAX_DEPTH) {
        const at = node.range ? pos(node.range[0]) : { line: 1, col: 1 };
        problems.push({ file, line: at.line, col: at.col, message: `YAML nested more than ${MAX_DEPTH} levels deep` });
        break;
      }
      for (const item of node.items) stack.push({ node: isPair(item) ? item.value : item, depth: depth + 1 });
    }
  }
  if (problems.length > 0) return { ok: false, problems: capProblems(problems) };

  if (!isMap(doc.contents)) {
    const kind = isSeq(doc.contents) ? "a list" : doc.contents === null ? "empty" : "a scalar";
    const at = doc.contents?.range ? pos(doc.contents.range[0]) : { line: 1, col: 1 };
    return fail(at.line, at.col, `the document is ${kind}; expected a mapping with apiVersion, kind, …`);
  }
  const value = doc.toJS({ maxAliasCount: 0 }) as Record<string, unknown>;

  // Built on first use, so that locating each of many problems costs O(depth), not O(keys).
  const pairIndex = new WeakMap<object, Map<string, Pair>>();
  const pairOf = (map: YAMLMap, seg: PathSegment): Pair | undefined => {
    let index = pairIndex.get(map);
    if (!index) {
      index = new Map();
      for (const p of map.items) {
        if (!isPair(p) || !isScalar(p.key)) continue;
        const k = String(p.key.value);
        if (!index.has(k)) index.set(k, p);
      }
      pairIndex.set(map, index);
    }
    return index.get(String(seg));
  };

  /** Walk the AST along `path`; returns the deepest node reached and whether the full path was found. */
  const walk = (path: readonly PathSegment[], which: "key" | "value"): Node | undefined => {
    let node: unknown = doc.contents;
    let last: Node | undefined = doc.contents ?? undefined;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const isLast = i === path.length - 1;
      if (isMap(node)) {
        const pair = pairOf(node, seg);
        if (!pair) return last;
        if (isLast && which === "key" && pair.key) return pair.key as Node;
        node = pair.value;
        if (node && (isScalar(node) || isMap(node) || isSeq(node) || isAlias(node))) last = node as Node;
        else return (pair.key as Node) ?? last;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (!item) return last;
        node = item;
        last = item as Node;
      } else return last;
    }
    return last;
  };

  const locate = (path: readonly PathSegment[], which: "key" | "value" = "value"): { line: number; col: number } => {
    const node = walk(path, which);
    return node?.range ? pos(node.range[0]) : { line: 1, col: 1 };
  };

  /** The n-th `${{` in the source text of the string at `path`, or the node itself. */
  const locateExpression = (path: readonly PathSegment[], n: number): { line: number; col: number } => {
    const node = walk(path, "value");
    if (!isScalar(node) || !node.range || typeof node.value !== "string") return locate(path);
    const raw = text.slice(node.range[0], node.range[1]);
    // Escapes could make the source and the value disagree; then the node is the best we know.
    if (raw.split("${{").length !== node.value.split("${{").length) return locate(path);
    let at = -1;
    for (let i = 0; i <= n; i++) {
      at = raw.indexOf("${{", at + 1);
      if (at < 0) return locate(path);
    }
    return pos(node.range[0] + at);
  };

  return {
    ok: true,
    doc: {
      file,
      value,
      locate,
      problem(path, message, which = "value", expression) {
        const at = expression === undefined ? locate(path, which) : locateExpression(path, expression);
        return { file, line: at.line, col: at.col, message };
      },
    },
  };
}
