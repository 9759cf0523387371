/** Real webhook deliveries from @octokit/webhooks-examples. */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { pullRequestTarget } from "../../../src/github/event.js";

interface Example {
  name: string;
  examples: Record<string, unknown>[];
}
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as Example[];
const of = (name: string) => examples.find((e) => e.name === name)!.examples;

describe("pullRequestTarget", () => {
  it("reads owner, repo, number and head from a pull_request.opened delivery", () => {
    const opened = of("pull_request").find((p) => p.action === "opened")!;
    const pr = opened.pull_request as { number: number; head: { sha: string } };
    const repo = opened.repository as { name: string; owner: { login: string } };
    expect(pullRequestTarget("pull_request", opened)).toEqual({ owner: repo.owner.login, repo: repo.name, pullNumber: pr.number, headSha: pr.head.sha });
  });

  it("re-evaluates on a submitted review, a push, a label and an edited body", () => {
    for (const [event, action] of [["pull_request_review", "submitted"], ["pull_request", "synchronize"], ["pull_request", "labeled"], ["pull_request", "unlabeled"]] as const) {
      const delivery = of(event).find((p) => p.action === action);
      expect(delivery, `${event}.${action} example`).toBeDefined();
      expect(pullRequestTarget(event, delivery)).toMatchObject({ pullNumber: expect.any(Number), headSha: expect.stringMatching(/^[0-9a-f]{40}$/) });
    }
  });

  it("ignores actions that change nothing the checks show", () => {
    for (const action of ["assigned", "closed", "locked", "review_requested"]) {
      const delivery = of("pull_request").find((p) => p.action === action)!;
      expect(pullRequestTarget("pull_request", delivery)).toBeNull();
    }
    expect(pullRequestTarget("issues", of("issues")[0])).toBeNull();
  });

  it("answers null for malformed payloads instead of throwing", () => {
    for (const bad of [null, "x", {}, { action: "opened" }, { action: "opened", pull_request: { number: "1", head: {} }, repository: { owner: {} } }]) {
      expect(pullRequestTarget("pull_request", bad)).toBeNull();
    }
  });
});
