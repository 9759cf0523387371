import { describe, expect, it } from "vitest";
import { compileCodeowners } from "../../../src/policy/codeowners.js";
import { compilePattern, type CompiledPattern } from "../../../src/policy/pattern.js";

// The matcher files patterns in an index, takes shortcuts for literal ones and
// matches segment by segment. Whatever it does must equal the plain rule: the
// last line whose pattern, as the equivalent regular expression, matches.
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("indexed matcher equals a brute-force last-match scan with regular expressions", () => {
  const rand = seeded(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const SEGS = ["logs", "docs", "prod", "x.yaml", "y.ts", "a.b.ts", "z.md", ...Array.from({ length: 24 }, (_, i) => `d${i}`)];
  const WILD_SEGS = ["*", "**", "*.ts", "*.yaml", "?", "p*", "*s", "x.*", "*.b.ts"];
  // Mostly literal segments: patterns that match nearly everything would hide index mistakes.
  const patternSeg = (): string => (rand() < 0.75 ? pick(SEGS) : pick(WILD_SEGS));
  const patterns: string[] = [];
  while (patterns.length < 400) {
    const len = 1 + Math.floor(rand() * 4);
    const segs = Array.from({ length: len }, patternSeg);
    if (segs.every((x) => x === "*" || x === "**" || x === "?")) continue;
    let p = segs.join("/");
    if (rand() < 0.6) p = "/" + p;
    if (rand() < 0.3) p += "/";
    if (typeof compilePattern(p) !== "string") patterns.push(p);
  }
  const randomPath = (): string[] => Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(SEGS));
  // Half the paths are built from a pattern, so deep and wildcard lines win often enough to be checked.
  const INSTANCES: Record<string, () => string[]> = {
    "*": () => [pick(SEGS)],
    "**": () => randomPath().slice(0, Math.floor(rand() * 3)),
    "*.ts": () => ["q.ts"],
    "*.yaml": () => ["q.yaml"],
    "?": () => ["q"],
    "p*": () => ["pq"],
    "*s": () => ["qs"],
    "x.*": () => ["x.q"],
    "*.b.ts": () => ["m.b.ts"],
  };
  const fromPattern = (p: string): string => {
    const segs = p.replace(/^\//, "").replace(/\/$/, "").split("/").flatMap((seg) => INSTANCES[seg]?.() ?? [seg]);
    if (rand() < 0.6) segs.push(...randomPath().slice(0, 2));
    return segs.join("/") || "root";
  };
  const paths = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? randomPath().join("/") : fromPattern(pick(patterns))));
  const text = patterns.map((p, i) => (i % 7 === 0 ? p : `${p} @o${i}`)).join("\n");
  const matcher = compileCodeowners(text);
  const brute: RegExp[] = patterns.map((p) => (compilePattern(p) as CompiledPattern).toRegExp());

  it("on 3,000 random paths against 400 random patterns", () => {
    expect(matcher.errors).toEqual([]);
    let mismatches = 0;
    const examples: string[] = [];
    for (const path of paths) {
      let expected: number | null = null;
      for (let i = brute.length - 1; i >= 0; i--) {
        if (brute[i]!.test(path)) {
          expected = i + 1;
          break;
        }
      }
      const got = matcher.match(path).line;
      if (got !== expected) {
        mismatches++;
        if (examples.length < 5) examples.push(`${path}: index ${got}, brute ${expected} (${expected ? patterns[expected - 1] : "-"})`);
      }
    }
    expect(examples).toEqual([]);
    expect(mismatches).toBe(0);
    // The scan must exercise owned, un-owned and unmatched paths alike.
    const lines = paths.map((p) => matcher.match(p).line);
    expect(new Set(lines).size).toBeGreaterThan(40);
    expect(lines.filter((l) => l === null).length).toBeGreaterThan(50);
  });
});

describe("segment matcher equals the regular-expression reference", () => {
  const rand = seeded(7);
  const CHARS = ["a", "b", ".", "*", "?", "\\ ", "x"];
  const seg = (): string => {
    if (rand() < 0.15) return "**";
    let out = "";
    const len = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < len; i++) out += CHARS[Math.floor(rand() * CHARS.length)];
    return out;
  };
  const pathSeg = (): string => {
    let out = "";
    const len = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < len; i++) out += ["a", "b", ".", "x", " "][Math.floor(rand() * 5)];
    return out;
  };
  it("on 20,000 random pattern/path pairs with wildcards and escapes", () => {
    const bad: string[] = [];
    let matched = 0;
    for (let k = 0; k < 20_000; k++) {
      let pattern = Array.from({ length: 1 + Math.floor(rand() * 3) }, seg).join("/");
      if (rand() < 0.4) pattern = "/" + pattern;
      if (rand() < 0.3) pattern += "/";
      const c = compilePattern(pattern);
      if (typeof c === "string") continue;
      const path = Array.from({ length: 1 + Math.floor(rand() * 4) }, pathSeg).join("/");
      const want = c.toRegExp().test(path);
      if (want) matched++;
      if (c.test(path) !== want && bad.length < 5) bad.push(`${pattern} vs ${path}: reference ${want}`);
      // The matcher skips a pattern when the path lacks its needle: that must never skip a match.
      if (want && !path.includes(c.needle) && bad.length < 5) bad.push(`${pattern} matches ${path} without its needle "${c.needle}"`);
      if (want && path.split("/").length < c.minSegments && bad.length < 5) bad.push(`${pattern} matches ${path}, shorter than its ${c.minSegments} segments`);
    }
    expect(bad).toEqual([]);
    expect(matched).toBeGreaterThan(1000);
  });
  it("stays polynomial on a pattern built to make a backtracking regex explode", () => {
    // With the reference regex this pair takes far beyond the test timeout.
    const c = compilePattern("**/*a*a*a*a*a*a*a*a*a*a*b") as CompiledPattern;
    const hostile = Array.from({ length: 8 }, () => "a".repeat(250)).join("/");
    expect(c.test(hostile)).toBe(false);
    expect(c.test(hostile + "b")).toBe(true);
  });
});
