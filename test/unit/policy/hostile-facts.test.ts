import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { evaluatePolicy, type PolicyFacts } from "../../../src/policy/index.js";

// The verdict is the security boundary, so it must be total: whatever a broken
// adapter or a hand-written snapshot hands it, it answers with a verdict (and,
// for a snapshot it cannot read, "not approved") instead of throwing.
const base = JSON.parse(readFileSync(new URL("../../fixtures/policy/cli/rotate-approved.facts.json", import.meta.url), "utf8")) as Record<string, unknown>;

function seeded(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff);
}

const JUNK: unknown[] = [null, 0, -1, 1.5, "", "x", "__proto__", "constructor", [], {}, [1], { a: 1 }, true, "2026-02-30T00:00:00Z", "@@", "*", "\u0000", "a".repeat(1000)];
const OPTIONAL = ["config", "orgConfig", "labels", "body", "permissions", "committers", "change", "reviewedChanges", "baseChanges", "emails", "now", "codeownersPath", "requests", "workflows"];

describe("evaluatePolicy on mutated snapshots", () => {
  it("2,000 random mutations of a valid snapshot: always a verdict, never a throw", () => {
    const rand = seeded(3);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const mutate = (o: unknown): unknown => {
      if (o === null || typeof o !== "object") return rand() < 0.3 ? pick(JUNK) : o;
      const c: Record<string, unknown> = Array.isArray(o) ? ({ ...o } as Record<string, unknown>) : { ...(o as Record<string, unknown>) };
      const keys = Object.keys(c);
      if (keys.length > 0 && rand() < 0.7) {
        const k = pick(keys);
        c[k] = rand() < 0.5 ? pick(JUNK) : mutate(c[k]);
      }
      if (rand() < 0.25) c[pick(OPTIONAL)] = rand() < 0.5 ? pick(JUNK) : mutate(base);
      return Array.isArray(o) ? Object.values(c) : c;
    };
    let invalid = 0;
    let approved = 0;
    for (let i = 0; i < 2_000; i++) {
      const facts = mutate(base) as PolicyFacts;
      const v = evaluatePolicy(facts);
      expect(typeof v.approved).toBe("boolean");
      expect(typeof v.explanation).toBe("string");
      if (v.blocking.some((b) => b.code === "facts-invalid" || b.code === "config-invalid")) {
        invalid++;
        expect(v.approved).toBe(false);
      }
      if (v.approved) approved++;
    }
    // The mutations must reach both outcomes, or the loop proves little.
    expect(invalid).toBeGreaterThan(200);
    expect(approved).toBeGreaterThan(50);
  });
});
