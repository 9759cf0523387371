/**
 * The one classifier, on real deliveries from @octokit/webhooks-examples and on
 * payloads a signed-but-odd sender could make: what the app does with each, and
 * which pull request it is filed under.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { classifyDelivery, installationOf, orderingKey, pullRequestOf } from "../../../src/github/app-event.js";
import { EVENTS } from "../../../src/index.js";

interface Example {
  name: string;
  examples: Record<string, unknown>[];
}
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as Example[];
const withInstallation = (name: string, action: string): Record<string, unknown> => {
  const found = examples.find((e) => e.name === name)!.examples.find((e) => e.action === action && typeof e.installation === "object" && e.installation !== null);
  if (found) return structuredClone(found);
  // Some actions have no example (pull_request.edited, …): the event's first example with an installation, re-labelled.
  const base = examples.find((e) => e.name === name)!.examples.find((e) => typeof e.installation === "object" && e.installation !== null)!;
  return { ...structuredClone(base), action };
};

describe("classifyDelivery", () => {
  it("turns every event the app subscribes to into the app event that handles it", () => {
    const kinds = new Map<string, string>();
    for (const name of EVENTS) {
      const [event, action] = name.split(".") as [string, string];
      const payload = withInstallation(event, action);
      const e = classifyDelivery(event, payload);
      kinds.set(name, e.kind);
      if (name === "pull_request.closed") expect(e.kind, name).toBe((payload.pull_request as { merged: boolean }).merged ? "merge" : "ignore");
      else if (name === "check_run.requested_action") expect(e.kind, name).toBe("run-action");
      else if (name.endsWith(".rerequested")) expect(e.kind, name).toBe("rerequest");
      else expect(e.kind, name).toBe("evaluate");
    }
    expect([...kinds.values()].filter((k) => k === "ignore")).toHaveLength(kinds.get("pull_request.closed") === "ignore" ? 1 : 0);
  });

  it("run-action: a click on a check, filed under the checked commit so one run's clicks apply in order", () => {
    const p = withInstallation("check_run", "requested_action");
    const e = classifyDelivery("check_run", p);
    expect(e.kind).toBe("run-action");
    if (e.kind !== "run-action") return;
    const run = p.check_run as { head_sha: string };
    expect(orderingKey(e)).toBe(`${e.click.owner}/${e.click.repo}@${run.head_sha}`);
    expect(pullRequestOf(e)).toBeNull();
  });

  it("evaluate: the pull request, its sender and its page; filed under the pull request", () => {
    const p = withInstallation("pull_request", "synchronize");
    const pr = p.pull_request as { number: number; html_url: string; head: { sha: string } };
    const repo = p.repository as { name: string; full_name: string; owner: { login: string } };
    const e = classifyDelivery("pull_request", p);
    expect(e).toEqual({
      kind: "evaluate",
      pr: { owner: repo.owner.login, repo: repo.name, pullNumber: pr.number, headSha: pr.head.sha },
      actor: (p.sender as { login: string }).login,
      detailsUrl: pr.html_url,
    });
    expect(orderingKey(e)).toBe(`${repo.full_name}#${pr.number}`);
    expect(pullRequestOf(e)).toEqual({ repository: repo.full_name, pullNumber: pr.number });
  });

  it("merge: only a claim (the handler asks the API), filed under the same pull request as its evaluations", () => {
    const p = withInstallation("pull_request", "closed");
    (p.pull_request as Record<string, unknown>).merged = true;
    const e = classifyDelivery("pull_request", p);
    expect(e.kind).toBe("merge");
    const review = classifyDelivery("pull_request_review", { ...withInstallation("pull_request_review", "submitted"), repository: p.repository, pull_request: { ...(withInstallation("pull_request_review", "submitted").pull_request as object), number: (p.pull_request as { number: number }).number } });
    expect(orderingKey(e)).toBe(orderingKey(review));
  });

  it("ignores, with a reason and no ordering key: an unmerged close, other actions, no installation, junk", () => {
    const closed = withInstallation("pull_request", "closed");
    (closed.pull_request as Record<string, unknown>).merged = false;
    const noInstallation = withInstallation("pull_request", "opened");
    delete noInstallation.installation;
    const badNumber = withInstallation("pull_request", "opened");
    (badNumber.pull_request as Record<string, unknown>).number = -1;
    const huge = withInstallation("pull_request", "opened");
    (huge.pull_request as Record<string, unknown>).number = 2 ** 31;
    const hugeMerge = withInstallation("pull_request", "closed");
    Object.assign(hugeMerge.pull_request as Record<string, unknown>, { merged: true, number: 2 ** 40 });
    const fractional = withInstallation("pull_request", "opened");
    (fractional.pull_request as Record<string, unknown>).number = 1.5;
    for (const [event, payload] of [
      ["pull_request", closed],
      ["pull_request", { ...withInstallation("pull_request", "opened"), action: "assigned" }],
      ["pull_request", noInstallation],
      ["pull_request", { ...withInstallation("pull_request", "opened"), installation: { id: "42" } }],
      ["pull_request", badNumber],
      ["pull_request", fractional],
      ["pull_request", huge],
      ["pull_request", hugeMerge],
      ["push", withInstallation("pull_request", "opened")],
      ["pull_request", null],
      ["pull_request", "text"],
      ["pull_request", { action: "opened", installation: { id: 1 }, pull_request: { number: 1 } }],
    ] as const) {
      const e = classifyDelivery(event, payload);
      expect(e.kind, JSON.stringify(payload)?.slice(0, 80)).toBe("ignore");
      expect(e.kind === "ignore" && e.why.length > 0).toBe(true);
      expect(orderingKey(e)).toBeNull();
    }
  });

  it("reads the installation only when it is a positive integer", () => {
    expect(installationOf({ installation: { id: 42 } })).toBe(42);
    for (const bad of [{}, { installation: null }, { installation: { id: 0 } }, { installation: { id: "42" } }, { installation: { id: 2 ** 60 } }, null]) expect(installationOf(bad)).toBeNull();
  });
});
