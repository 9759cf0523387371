/**
 * What the check handlers take from `check_run` and `check_suite` deliveries: which
 * check, which button, who clicked, and which pull requests a re-run asks about.
 * Authority is never taken from here: the run is found in the store, and who may act
 * is read afresh from GitHub.
 */
import type { Actor } from "../../policy/index.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const SHA = /^[0-9a-f]{40}$/;

export interface RequestedAction {
  owner: string;
  repo: string;
  checkRunId: number;
  checkName: string;
  headSha: string;
  /** What the app put in `external_id` (the run id), if anything. */
  externalId: string | null;
  /** The button's identifier, as sent (checked against the known ones by the handler). */
  identifier: string;
  clicker: Actor;
  /** The check's output when clicked, so an answer can keep its title and summary. */
  output: { title: string | null; summary: string | null; text: string | null };
}

function repoOf(payload: Record<string, unknown>): { owner: string; repo: string } | null {
  const repo = payload.repository;
  if (!isObject(repo) || !isObject(repo.owner)) return null;
  const { login } = repo.owner;
  const { name } = repo;
  return typeof login === "string" && typeof name === "string" && login !== "" && name !== "" ? { owner: login, repo: name } : null;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** A `check_run.requested_action` delivery, or null for anything else or a payload missing what it needs. */
export function requestedAction(eventName: string, payload: unknown): RequestedAction | null {
  if (eventName !== "check_run" || !isObject(payload) || payload.action !== "requested_action") return null;
  const at = repoOf(payload);
  const cr = payload.check_run;
  const ra = payload.requested_action;
  const sender = payload.sender;
  if (!at || !isObject(cr) || !isObject(ra) || !isObject(sender)) return null;
  const { id, head_sha: headSha, name } = cr;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) return null;
  if (typeof headSha !== "string" || !SHA.test(headSha) || typeof name !== "string") return null;
  if (typeof ra.identifier !== "string" || typeof sender.login !== "string" || sender.login === "") return null;
  const output = isObject(cr.output) ? cr.output : {};
  return {
    ...at,
    checkRunId: id,
    checkName: name,
    headSha,
    externalId: typeof cr.external_id === "string" && cr.external_id !== "" ? cr.external_id : null,
    identifier: ra.identifier,
    // No type is no claim to be a person: only `User` accounts may act on runs.
    clicker: { login: sender.login, type: typeof sender.type === "string" ? sender.type : "Unknown" },
    output: { title: str(output.title), summary: str(output.summary), text: str(output.text) },
  };
}

export interface Rerequested {
  owner: string;
  repo: string;
  /** The check re-run (check_run.rerequested), or null for a whole suite. */
  checkName: string | null;
  /** Pull requests GitHub lists for the check or suite (same-repository heads only). */
  pullNumbers: number[];
}

/** At most this many pull requests are re-evaluated for one re-run request. */
export const MAX_RERUN_PULLS = 5;

/** A `check_run.rerequested` or `check_suite.rerequested` delivery, or null. */
export function rerequested(eventName: string, payload: unknown): Rerequested | null {
  if ((eventName !== "check_run" && eventName !== "check_suite") || !isObject(payload) || payload.action !== "rerequested") return null;
  const at = repoOf(payload);
  const subject = payload[eventName];
  if (!at || !isObject(subject)) return null;
  const pulls = Array.isArray(subject.pull_requests) ? subject.pull_requests : [];
  const numbers = [
    ...new Set(pulls.flatMap((p) => (isObject(p) && typeof p.number === "number" && Number.isSafeInteger(p.number) && p.number > 0 ? [p.number] : []))),
  ].slice(0, MAX_RERUN_PULLS);
  return { ...at, checkName: eventName === "check_run" && typeof subject.name === "string" ? subject.name : null, pullNumbers: numbers };
}
