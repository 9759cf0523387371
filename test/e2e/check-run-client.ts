/**
 * `check_run` and `check_suite` deliveries for the e2e tests: payloads from
 * @octokit/webhooks-examples, re-aimed at a check run of the fake GitHub (its id, head,
 * name, output and the app's external_id) and at whoever clicks.
 */
import { createRequire } from "node:module";
import type { FakeCheckRun } from "../support/github/pull-request-world.js";
import { INSTALLATION_ID } from "./webhook-client.js";

interface ExampleSet {
  name: string;
  examples: Record<string, unknown>[];
}
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as ExampleSet[];

function example(event: string, action: string): Record<string, unknown> {
  const found = examples.find((d) => d.name === event)?.examples.find((e) => e.action === action && typeof e.installation === "object" && e.installation !== null);
  if (!found) throw new Error(`no ${event}.${action} example with an installation in @octokit/webhooks-examples`);
  return structuredClone(found);
}

function aim(body: Record<string, unknown>, owner: string, repo: string, sender: { login: string; type: string }): void {
  const r = body.repository as Record<string, unknown>;
  r.name = repo;
  r.full_name = `${owner}/${repo}`;
  (r.owner as Record<string, unknown>).login = owner;
  Object.assign(body.sender as Record<string, unknown>, sender);
  (body.installation as Record<string, unknown>).id = INSTALLATION_ID;
}

/** A click on `identifier` of `check` by `sender`; `externalId` is what the app set on the check (the run id). */
export function requestedActionPayload(check: FakeCheckRun, identifier: string, sender: { login: string; type: string }, externalId: string): Record<string, unknown> {
  const body = example("check_run", "requested_action");
  aim(body, check.owner, check.repo, sender);
  const cr = body.check_run as Record<string, unknown>;
  Object.assign(cr, {
    id: check.id,
    head_sha: check.headSha,
    name: check.name,
    external_id: externalId,
    status: check.status,
    conclusion: check.conclusion,
    pull_requests: [],
    output: { ...(cr.output as Record<string, unknown>), title: check.output.title ?? null, summary: check.output.summary ?? null, text: check.output.text ?? null },
  });
  body.requested_action = { identifier };
  return body;
}

/** "Re-run" of one check (`check_run`) or of the suite (`check_suite`) of a PR's head. */
export function rerequestedPayload(event: "check_run" | "check_suite", at: { owner: string; repo: string; headSha: string; pullNumber: number; name?: string }, sender: string): Record<string, unknown> {
  const body = example(event, "rerequested");
  aim(body, at.owner, at.repo, { login: sender, type: "User" });
  const subject = body[event] as Record<string, unknown>;
  subject.head_sha = at.headSha;
  if (at.name !== undefined) subject.name = at.name;
  const pulls = (subject.pull_requests as Record<string, unknown>[] | undefined) ?? [];
  subject.pull_requests = [{ ...(pulls[0] ?? {}), number: at.pullNumber }];
  return body;
}
