import { describe, expect, it } from "vitest";
import { evidenceGitChecks, shellQuote } from "../../../src/audit/evidence-commands.js";

const M = "1".repeat(40);
const H = "2".repeat(40);
const W = "3".repeat(40);

describe("evidenceGitChecks", () => {
  it("gives no commands for a run without evidence (a local run) or with malformed evidence", () => {
    expect(evidenceGitChecks(undefined)).toEqual([]);
    expect(evidenceGitChecks("x")).toEqual([]);
    expect(evidenceGitChecks({ mergeCommit: "not a sha; rm -rf /", request: { path: "a", blobSha: "zz" } })).toEqual([]);
  });

  it("checks the request at the merge commit by blob and content hash, and each authority blob", () => {
    const checks = evidenceGitChecks({
      mergeCommit: M,
      headSha: H,
      request: { path: "requests/a.yaml", blobSha: W, sha256: "f".repeat(64) },
      authority: { baseSha: H, workflow: [{ path: "workflows/w.yaml", sha: W }], policy: null, codeowners: null },
      approvals: [{ login: "sam", commit: H }],
    });
    expect(checks).toContainEqual(expect.objectContaining({ command: `git show ${M}:requests/a.yaml | git hash-object --stdin`, expect: W }));
    expect(checks).toContainEqual(expect.objectContaining({ command: `git cat-file -p ${W} | sha256sum`, expect: "f".repeat(64) }));
    expect(checks).toContainEqual(expect.objectContaining({ command: `git rev-parse ${H}:workflows/w.yaml`, expect: W }));
    expect(checks).toContainEqual(expect.objectContaining({ command: `git cat-file -t ${H}`, expect: "commit" }));
  });

  it("quotes hostile paths so the command stays one word", () => {
    const [check] = evidenceGitChecks({ mergeCommit: M, request: { path: "requests/$(touch pwned)'x.yaml", blobSha: W } }).filter((c) => c.command.startsWith("git show"));
    expect(check!.command).toBe(`git show '${M}:requests/$(touch pwned)'\\''x.yaml' | git hash-object --stdin`);
    expect(shellQuote("plain/path.yaml")).toBe("plain/path.yaml");
  });
});
