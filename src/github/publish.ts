/**
 * The one way check runs reach GitHub. Each (repository, head SHA, check name)
 * has one current check run, remembered in the store with a hash of what was
 * written, so deciding what to do costs no API call:
 *
 * - the same payload again: nothing is written;
 * - a changed payload: the run is updated in place (PATCH);
 * - a new run (POST) only when there is none yet, or when GitHub cannot show
 *   the change on the current run: a completed run keeps its status and
 *   conclusion, and annotations are only ever appended, never removed. GitHub
 *   shows the newest run of a name, so the new one replaces the old.
 *
 * Lower level, for reporters that keep their own id (the run check):
 * `createCheckRun` posts a run and returns its id, `updateCheckRun` patches
 * one. Both split annotations into GitHub's 50 per call.
 */
import { createHash } from "node:crypto";
import type { Knex } from "knex";
import { currentCheckRun, recordCheckRun, type CurrentCheckRun } from "../store/check-runs.js";
import { canonicalJson } from "../store/audit.js";
import { statusOf, type GitHubClient } from "./client.js";
import { MAX_ANNOTATIONS_PER_CALL, type CheckAnnotation } from "./render.js";

export interface CheckRunOutput {
  title: string;
  summary: string;
  text?: string;
  annotations?: CheckAnnotation[];
}

/** A check run as POST /repos/{owner}/{repo}/check-runs takes it (the plan, policy and run checks all fit). */
export interface CheckPayload {
  name: string;
  head_sha: string;
  status: "queued" | "in_progress" | "completed";
  conclusion?: string;
  details_url?: string;
  external_id?: string;
  started_at?: string;
  completed_at?: string;
  /** Buttons (requested actions); GitHub allows three. */
  actions?: { label: string; description: string; identifier: string }[];
  output: CheckRunOutput;
}

export interface RepoAt {
  owner: string;
  repo: string;
}

export type PublishOutcome = { written: "none" | "updated" | "created"; id: number };

function batches(annotations: readonly CheckAnnotation[]): CheckAnnotation[][] {
  const out: CheckAnnotation[][] = [];
  for (let i = 0; i < annotations.length; i += MAX_ANNOTATIONS_PER_CALL) out.push(annotations.slice(i, i + MAX_ANNOTATIONS_PER_CALL));
  return out;
}

/** Follow-up PATCHes adding annotations beyond the first call's 50 (GitHub appends them). */
async function appendAnnotations(gh: GitHubClient, at: RepoAt, id: number, output: CheckRunOutput, rest: CheckAnnotation[][]): Promise<void> {
  for (const annotations of rest) {
    await gh.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { ...at, check_run_id: id, output: { title: output.title, summary: output.summary, annotations } });
  }
}

/** Creates a check run (POST, then a PATCH per further 50 annotations) and returns its id. */
export async function createCheckRun(gh: GitHubClient, at: RepoAt, payload: CheckPayload): Promise<number> {
  const [first = [], ...rest] = batches(payload.output.annotations ?? []);
  const { annotations: _all, ...output } = payload.output;
  const body = { ...payload, output: first.length > 0 ? { ...output, annotations: first } : output };
  const { data } = await gh.request("POST /repos/{owner}/{repo}/check-runs", { ...at, ...body });
  const id = (data as { id: number }).id;
  await appendAnnotations(gh, at, id, payload.output, rest);
  return id;
}

/**
 * Updates check run `id` in place. Its annotations are added to the ones it
 * has (GitHub cannot remove any); `withAnnotations: false` leaves them as they are.
 * A completed run cannot change its status or conclusion: create a new one instead.
 */
export async function updateCheckRun(gh: GitHubClient, at: RepoAt, id: number, payload: CheckPayload, opts: { withAnnotations?: boolean } = {}): Promise<void> {
  const { head_sha: _sha, ...fields } = payload;
  const { annotations: all, ...output } = payload.output;
  const [first = [], ...rest] = opts.withAnnotations === false ? [] : batches(all ?? []);
  await gh.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { ...at, check_run_id: id, ...fields, output: first.length > 0 ? { ...output, annotations: first } : output });
  await appendAnnotations(gh, at, id, payload.output, rest);
}

/** Takes a superseded check run's buttons away: a click there would act on a run that check no longer shows. */
export async function clearCheckActions(gh: GitHubClient, at: RepoAt, id: number): Promise<void> {
  await gh.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { ...at, check_run_id: id, actions: [] });
}

const sha256 = (v: unknown): string => createHash("sha256").update(canonicalJson(v)).digest("hex");
const NO_ANNOTATIONS = sha256([]);

/** Deliveries of one process for the same check queue up, so two of them never both create its first run. */
const inFlight = new Map<string, Promise<unknown>>();

async function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = inFlight.get(key) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const tail = run.catch(() => undefined);
  inFlight.set(key, tail);
  try {
    return await run;
  } finally {
    if (inFlight.get(key) === tail) inFlight.delete(key);
  }
}

/** What must be written to turn `current` into `payload`. */
export function publishAction(current: Pick<CurrentCheckRun, "status" | "conclusion" | "payloadHash" | "annotationsHash"> | null, payload: CheckPayload): "none" | "update" | "update-keeping-annotations" | "create" {
  if (!current) return "create";
  if (current.payloadHash === sha256(payload)) return "none";
  // GitHub keeps a completed run's status and conclusion.
  if (current.status === "completed" && (payload.status !== "completed" || (payload.conclusion ?? null) !== current.conclusion)) return "create";
  const annotations = sha256(payload.output.annotations ?? []);
  if (annotations === current.annotationsHash) return "update-keeping-annotations";
  // Annotations only accumulate: stale ones could never be taken off the current run.
  return current.annotationsHash === NO_ANNOTATIONS ? "update" : "create";
}

/**
 * Shows `payload` as the current check run of its name on its head SHA,
 * writing as little as possible (see the file comment). The store row is
 * written after GitHub accepted the call, so a failed call is retried whole.
 */
export async function publishCheck(db: Knex, gh: GitHubClient, at: RepoAt, payload: CheckPayload): Promise<PublishOutcome> {
  const key = { repository: `${at.owner}/${at.repo}`, headSha: payload.head_sha, name: payload.name };
  return serialized(`${key.repository}\u0000${key.headSha}\u0000${key.name}`, async () => {
    const current = await currentCheckRun(db, key);
    const action = publishAction(current, payload);
    if (action === "none") return { written: "none", id: current!.checkRunId };
    const row = {
      ...key,
      status: payload.status,
      conclusion: payload.conclusion ?? null,
      payloadHash: sha256(payload),
      annotationsHash: sha256(payload.output.annotations ?? []),
    };
    if (action !== "create") {
      try {
        await updateCheckRun(gh, at, current!.checkRunId, payload, { withAnnotations: action === "update" });
        await recordCheckRun(db, { ...row, checkRunId: current!.checkRunId }, false);
        return { written: "updated", id: current!.checkRunId };
      } catch (e) {
        // The run is gone (or our row is from before a repository transfer): show a new one.
        if (statusOf(e) !== 404) throw e;
      }
    }
    const id = await createCheckRun(gh, at, payload);
    await recordCheckRun(db, { ...row, checkRunId: id }, true);
    return { written: "created", id };
  });
}

/** The former name of `createCheckRun` (always a new run); prefer `publishCheck`. */
export const publishCheckRun = createCheckRun;
