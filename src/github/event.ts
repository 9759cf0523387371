/**
 * Which webhook deliveries change a PR's facts, and which PR they are about.
 * Handlers call this with Probot's `context.name` and `context.payload`; the
 * facts themselves are always read fresh from the API, never from the payload,
 * which may be stale by the time it is handled.
 */
import type { PullRequestRef } from "./client.js";

/** Event → actions that can change the verdict or the plan. */
export const EVALUATING_EVENTS: Readonly<Record<string, readonly string[]>> = {
  pull_request: ["opened", "reopened", "synchronize", "edited", "labeled", "unlabeled", "ready_for_review"],
  pull_request_review: ["submitted", "edited", "dismissed"],
};

export interface PullRequestEventTarget extends PullRequestRef {
  /** The head the event saw; the gathered facts use the head as read from the API. */
  headSha: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** The PR a delivery asks to re-evaluate, or null for events and actions that change nothing the checks show. */
export function pullRequestTarget(eventName: string, payload: unknown): PullRequestEventTarget | null {
  if (!isObject(payload)) return null;
  const actions = EVALUATING_EVENTS[eventName];
  if (!actions || typeof payload.action !== "string" || !actions.includes(payload.action)) return null;
  const pr = payload.pull_request;
  const repo = payload.repository;
  if (!isObject(pr) || !isObject(repo) || !isObject(repo.owner) || !isObject(pr.head)) return null;
  const owner = repo.owner.login;
  const name = repo.name;
  const number = pr.number;
  const headSha = pr.head.sha;
  if (typeof owner !== "string" || typeof name !== "string" || typeof number !== "number" || typeof headSha !== "string") return null;
  return { owner, repo: name, pullNumber: number, headSha };
}
