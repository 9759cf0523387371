/**
 * The one place a webhook delivery becomes something the app does: a pure
 * function from (event name, payload) to a typed app event. The request path
 * uses it to file the delivery under its pull request (the ordering key); the
 * processor uses it to pick the handler. Adding an event: a new `kind` here, a
 * case in `orderingKey`, and a case in handlers/process-delivery.ts (the
 * compiler points at each, the switches being exhaustive).
 *
 * Only where and who is taken from the payload; facts are read from the API.
 */
import { pullRequestTarget, type PullRequestEventTarget } from "./event.js";
import { requestedAction, rerequested, type RequestedAction, type Rerequested } from "./handlers/check-run-payload.js";
import { mergedPullRequest, pullRequestHtmlUrl, senderOf, type MergeClaim } from "./handlers/payload.js";

interface Common {
  /** Who caused the event, for audit rows. */
  actor: string;
  /** The PR's web page, for the checks' "Details" link. */
  detailsUrl?: string;
}

export type AppEvent =
  | ({ kind: "evaluate"; pr: PullRequestEventTarget } & Common)
  | ({ kind: "merge"; claim: MergeClaim } & Common)
  /** A button on the run check: retry, roll back, cancel, revoke, record follow-up. */
  | ({ kind: "run-action"; click: RequestedAction } & Common)
  /** "Re-run" on the plan or policy check, or on the suite. */
  | ({ kind: "rerequest"; rerun: Rerequested } & Common)
  | { kind: "ignore"; why: string };

export type AppEventKind = AppEvent["kind"];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** The installation the delivery came through: the app acts as that installation. */
export function installationOf(payload: unknown): number | null {
  const id = isObject(payload) && isObject(payload.installation) ? payload.installation.id : undefined;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : null;
}

const MALFORMED_NUMBER: AppEvent = { kind: "ignore", why: "malformed pull request number" };
/** GitHub's PR numbers are positive and fit the queue's integer column. */
const plausibleNumber = (n: number): boolean => Number.isSafeInteger(n) && n >= 1 && n <= 2_147_483_647;

export function classifyDelivery(eventName: string, payload: unknown): AppEvent {
  if (!isObject(payload)) return { kind: "ignore", why: "payload is not an object" };
  if (installationOf(payload) === null) return { kind: "ignore", why: "no installation: the app cannot act on it" };
  const url = pullRequestHtmlUrl(payload);
  const common: Common = { actor: senderOf(payload), ...(url ? { detailsUrl: url } : {}) };
  const click = requestedAction(eventName, payload);
  if (click) return { kind: "run-action", click, ...common };
  const rerun = rerequested(eventName, payload);
  if (rerun) return { kind: "rerequest", rerun, ...common };
  const claim = mergedPullRequest(eventName, payload);
  if (claim) return plausibleNumber(claim.pullNumber) ? { kind: "merge", claim, ...common } : MALFORMED_NUMBER;
  const pr = pullRequestTarget(eventName, payload);
  if (pr) return plausibleNumber(pr.pullNumber) ? { kind: "evaluate", pr, ...common } : MALFORMED_NUMBER;
  return { kind: "ignore", why: `${eventName}.${String(payload.action)} changes nothing the app shows` };
}

/**
 * Deliveries with the same key are processed one at a time, in the order they
 * were received: one pull request's evaluations and its merge never interleave.
 */
export function orderingKey(e: AppEvent): string | null {
  switch (e.kind) {
    case "evaluate":
      return `${e.pr.owner}/${e.pr.repo}#${e.pr.pullNumber}`;
    case "merge":
      return `${e.claim.owner}/${e.claim.repo}#${e.claim.pullNumber}`;
    // Clicks on one run's check apply in the order they were made.
    case "run-action":
      return `${e.click.owner}/${e.click.repo}@${e.click.headSha}`;
    // A re-run evaluates a PR like its own events do: in line with them when GitHub names one.
    case "rerequest":
      return e.rerun.pullNumbers.length === 1 ? `${e.rerun.owner}/${e.rerun.repo}#${e.rerun.pullNumbers[0]}` : null;
    case "ignore":
      return null;
  }
}

/** The pull request an event is about, for the queue's columns (operators query by them). */
export function pullRequestOf(e: AppEvent): { repository: string; pullNumber: number } | null {
  switch (e.kind) {
    case "evaluate":
      return { repository: `${e.pr.owner}/${e.pr.repo}`, pullNumber: e.pr.pullNumber };
    case "merge":
      return { repository: `${e.claim.owner}/${e.claim.repo}`, pullNumber: e.claim.pullNumber };
    case "rerequest":
      return e.rerun.pullNumbers.length === 1 ? { repository: `${e.rerun.owner}/${e.rerun.repo}`, pullNumber: e.rerun.pullNumbers[0]! } : null;
    case "run-action":
    case "ignore":
      return null;
  }
}
