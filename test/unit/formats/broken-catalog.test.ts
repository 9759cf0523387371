/**
 * A platform engineer's typical mistakes in a real catalog workflow. The fixture is
 * a copy of workflows/rotate-db-credentials.yaml with some lines broken in place (no
 * line added or removed), so every problem must land on the line that was broken.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const FIXTURE_DIR = path.join(ROOT, "test/fixtures/formats/broken-catalog");
const ORIGINAL = path.join(ROOT, "workflows/rotate-db-credentials.yaml");
const BROKEN = path.join(FIXTURE_DIR, "workflows/rotate-db-credentials.yaml");

/**
 * The edits, by line: [line, as in the catalog, as broken]. When the catalog workflow
 * changes, refresh the copy: copy the original and re-apply these edits, then update
 * the line numbers here and below.
 */
const EDITS: [number, string, string][] = [
  [14, "  minApprovals: 2", "  minApprovals: two"],
  [17, "timeout: 30m", "timout: 30m"],
  [21, "    with: { length: 32 }", "    with: { length: 8 }"],
  [30, "    needs: [password]", "    needs: [promote]"],
  [34, "      method: POST", "      method: POTS"],
  [41, "    needs: [password, stage]", "    needs: [pasword, stage]"],
  [42, "    uses: postgres.rotate-password", "    uses: postgres.rotate-pasword"],
  [45, '      role: "${{ params.role }}"', '      role: "${{ params.rol }}"'],
  [47, "    retry: { attempts: 3, backoff: 2s, on: [timeout, connection] }", "    retry: { attempts: 3, backoff: 2s, on: [timeout, conection] }"],
];

async function validate(argv: string[], cwd: string): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await main(["validate", ...argv], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: () => true },
    cwd,
    env: {},
  });
  return { code, out };
}

describe("a broken copy of a catalog workflow", () => {
  it("is still a line-for-line copy of the catalog workflow (refresh it if the original changes)", () => {
    const original = readFileSync(ORIGINAL, "utf8").split("\n");
    const broken = readFileSync(BROKEN, "utf8").split("\n");
    const edited = [...original];
    for (const [line, before, after] of EDITS) {
      expect(original[line - 1], `catalog line ${line}`).toBe(before);
      edited[line - 1] = after;
    }
    expect(broken, "the copy is the catalog workflow with exactly the listed edits").toEqual(edited);
  });

  it("exits 1 with one file:line:col line per mistake, each on the broken line", async () => {
    const { code, out } = await validate(["workflows/"], FIXTURE_DIR);
    expect(code).toBe(1);
    const f = "workflows/rotate-db-credentials.yaml";
    expect(out.trim().split("\n")).toEqual([
      `${f}:14:17: approval.minApprovals must be integer`,
      `${f}:17:1: unknown key "timout" in document; did you mean "timeout"?`,
      `${f}:21:21: secret.generate: with.length must be >= 16`,
      // Line 30 made `stage` need `promote` instead of `password`: that closes a cycle, and
      // `stage` now reads an output it does not wait for.
      `${f}:30:13: dependency cycle: stage -> alter-role -> promote -> stage`,
      `${f}:34:15: http.request: with.method must be one of: "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"`,
      `${f}:36:23: \${{ steps.password.outputs.value }}: step "stage" reads step "password", which it does not depend on; add it to needs`,
      `${f}:41:13: step "alter-role" needs unknown step "pasword"; did you mean "password"?`,
      `${f}:42:11: unknown action "postgres.rotate-pasword"; did you mean "postgres.rotate-password"?`,
      `${f}:45:14: \${{ params.rol }} reads undeclared parameter "rol"; did you mean "role"?`,
      `${f}:46:18: \${{ steps.password.outputs.value }}: step "alter-role" reads step "password", which it does not depend on; add it to needs`,
      `${f}:47:54: unknown error class "conection"; did you mean "connection"? (known: timeout, connection, http-5xx, http-429, http-4xx, interrupted)`,
    ]);
  });

  it("the original validates", async () => {
    const { code, out } = await validate(["workflows/rotate-db-credentials.yaml"], ROOT);
    expect(out).toBe("");
    expect(code).toBe(0);
  });
});
