import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { mergedPullRequest, pullRequestHtmlUrl, senderOf } from "../../../../src/github/handlers/payload.js";

interface ExampleSet {
  name: string;
  examples: Record<string, unknown>[];
}
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as ExampleSet[];
const closed = examples.find((e) => e.name === "pull_request")!.examples.find((x) => x.action === "closed")!;
const SHA = "a".repeat(40);

function mergedCopy(patch: Record<string, unknown> = {}): Record<string, unknown> {
  const p = structuredClone(closed);
  Object.assign(p.pull_request as Record<string, unknown>, { merged: true, merge_commit_sha: SHA }, patch);
  return p;
}

describe("mergedPullRequest", () => {
  it("reads a merged pull_request.closed delivery", () => {
    const repo = closed.repository as { name: string; owner: { login: string } };
    expect(mergedPullRequest("pull_request", mergedCopy())).toEqual({
      owner: repo.owner.login,
      repo: repo.name,
      pullNumber: (closed.pull_request as { number: number }).number,
      claimedMergeCommitSha: SHA,
      ...(typeof (closed.installation as { id?: unknown } | undefined)?.id === "number" ? { installationId: (closed.installation as { id: number }).id } : {}),
    });
  });

  it("takes the installation id the run's workers act on, and ignores a forged one", () => {
    expect(mergedPullRequest("pull_request", { ...mergedCopy(), installation: { id: 4242 } })?.installationId).toBe(4242);
    for (const id of ["4242", -1, 0, 1.5, 1e300, null, { id: 1 }]) {
      const m = mergedPullRequest("pull_request", { ...mergedCopy(), installation: { id } });
      expect(m).not.toBeNull();
      expect(m!.installationId).toBeUndefined();
    }
    expect(mergedPullRequest("pull_request", { ...mergedCopy(), installation: "4242" })!.installationId).toBeUndefined();
  });

  it("ignores a PR closed without merging, other events and other actions", () => {
    expect(mergedPullRequest("pull_request", closed)).toBeNull();
    expect(mergedPullRequest("pull_request_review", mergedCopy())).toBeNull();
    expect(mergedPullRequest("pull_request", { ...mergedCopy(), action: "edited" })).toBeNull();
  });

  it("refuses malformed payloads instead of crashing", () => {
    for (const bad of [null, 7, "x", {}, { action: "closed" }, { action: "closed", pull_request: { merged: true }, repository: {} }]) {
      expect(mergedPullRequest("pull_request", bad)).toBeNull();
    }
    expect(mergedPullRequest("pull_request", mergedCopy({ merged: "true" }))).toBeNull();
    expect(mergedPullRequest("pull_request", mergedCopy({ number: -1 }))).toBeNull();
    expect(mergedPullRequest("pull_request", mergedCopy({ number: 1.5 }))).toBeNull();
  });

  it("keeps the payload's merge commit only as a claim: a missing or malformed one is no claim, and the API decides", () => {
    expect(mergedPullRequest("pull_request", mergedCopy({ merge_commit_sha: null }))).toMatchObject({ claimedMergeCommitSha: null });
    expect(mergedPullRequest("pull_request", mergedCopy({ merge_commit_sha: "main" }))).toMatchObject({ claimedMergeCommitSha: null });
  });
});

describe("senderOf and pullRequestHtmlUrl", () => {
  it("take the sender's login and the PR page", () => {
    expect(senderOf(closed)).toBe((closed.sender as { login: string }).login);
    expect(pullRequestHtmlUrl(closed)).toBe((closed.pull_request as { html_url: string }).html_url);
  });

  it("fall back when the fields are missing or not what they claim", () => {
    expect(senderOf({})).toBe("github");
    expect(senderOf({ sender: { login: "" } })).toBe("github");
    expect(pullRequestHtmlUrl({ pull_request: { html_url: "javascript:alert(1)" } })).toBeUndefined();
  });
});
