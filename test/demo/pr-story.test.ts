/** `npm run demo` plays every stage of the pull-request story, and each stage shows what it claims. */
import { describe, expect, it } from "vitest";
import { playStory } from "./pr-story.js";

describe("npm run demo", () => {
  it("plays the pull-request story from opening to audit, on a machine with no GitHub and no database server", async () => {
    let out = "";
    const { runId, code } = await playStory({ write: (s) => (out += s), isTTY: false });
    expect(code).toBe(0);
    const stages = [...out.matchAll(/^== (\d+)\. (.+)$/gm)].map((m) => Number(m[1]));
    expect(stages).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const section = (n: number) => out.slice(out.indexOf(`== ${n}. `), out.indexOf(`== ${n + 1}. `) === -1 ? undefined : out.indexOf(`== ${n + 1}. `));
    // A reviewer reads the plan, and a policy that names who must approve and why.
    expect(section(4)).toMatch(/clutch-luigi\/plan {4}success: Plan: restart-service/);
    expect(section(4)).toMatch(/clutch-luigi\/policy {2}action_required: Not approved: 1 more approval from @acme\/sre/);
    expect(section(4)).toMatch(/CODEOWNERS line \d+ .* owns requests\/2026\/ops-1302-restart-payments\.yaml/);
    // The author's own approval is refused, with the reason.
    expect(section(5)).toMatch(/action_required/);
    expect(section(5)).toMatch(/Not counted: alice's approval: the author of a pull request cannot approve it/);
    // A code owner's approval passes it.
    expect(section(6)).toMatch(/clutch-luigi\/policy {2}success: Approved by sam/);
    // The merge starts the run, which retries the deployer's 202 and succeeds.
    expect(section(7)).toContain(`Run ${runId}`);
    expect(section(8)).toMatch(/healthy succeeded \(attempt 2\)/);
    expect(section(8)).toMatch(new RegExp(`run ${runId}: succeeded`));
    // The PR afterwards: the completed run check with its step table, and one outcome comment.
    expect(section(9)).toMatch(/clutch-luigi\/run {5}completed success: Succeeded: \d+ of \d+ steps/);
    expect(section(9)).toMatch(/\| `healthy` \| succeeded \| 2 \|/);
    expect(section(9)).toContain("comment by clutch-luigi[bot]:");
    expect(section(9)).toContain("### ✅ Run succeeded");
    expect(section(9)).toContain(`clutch-luigi audit show ${runId}`);
    // The auditor's view of that run, and an intact chain.
    expect(section(10)).toMatch(/approved by {3}sam \(review \d+\)/);
    expect(section(10)).toMatch(/\d+ rows, head seq \d+, head hash [0-9a-f]{64}: intact/);
  }, 120_000);
});
