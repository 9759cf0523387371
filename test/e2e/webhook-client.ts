/**
 * Real webhook deliveries for the e2e tests: payloads from
 * @octokit/webhooks-examples, pointed at a PR of the fake GitHub, signed with
 * the app's secret as GitHub signs them (HMAC-SHA256 of the raw body) and
 * POSTed over HTTP.
 */
import { createHmac, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import type { FakePull } from "../support/github/pull-request-world.js";

export const INSTALLATION_ID = 4242;

interface ExampleSet {
  name: string;
  examples: Record<string, unknown>[];
}

// The package's main is a JSON file, which ESM can only import with an import attribute; require reads it plainly.
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as ExampleSet[];

function example(event: string, action: string): Record<string, unknown> {
  const def = examples.find((d) => d.name === event);
  const found = def?.examples.find(
    (e) => e.action === action && typeof e.installation === "object" && e.installation !== null,
  );
  if (!found) throw new Error(`no ${event}.${action} example with an installation in @octokit/webhooks-examples`);
  return structuredClone(found);
}

/** The example payload, re-aimed at the fake PR (repository, number, head, sender, installation). */
export function payloadFor(event: "pull_request" | "pull_request_review", action: string, p: FakePull, extra: { sender?: string; merged?: boolean; mergeCommitSha?: string } = {}): Record<string, unknown> {
  const body = example(event, action);
  const repo = body.repository as Record<string, unknown>;
  repo.name = p.repo;
  repo.full_name = `${p.owner}/${p.repo}`;
  (repo.owner as Record<string, unknown>).login = p.owner;
  const pr = body.pull_request as Record<string, unknown>;
  pr.number = p.number;
  pr.html_url = `https://github.com/${p.owner}/${p.repo}/pull/${p.number}`;
  (pr.head as Record<string, unknown>).sha = p.headSha;
  (pr.user as Record<string, unknown>).login = p.author.login;
  if (extra.merged !== undefined) pr.merged = extra.merged;
  if (extra.mergeCommitSha !== undefined) pr.merge_commit_sha = extra.mergeCommitSha;
  (body.sender as Record<string, unknown>).login = extra.sender ?? p.author.login;
  (body.installation as Record<string, unknown>).id = INSTALLATION_ID;
  return body;
}

export function sign(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface Delivery {
  event: string;
  id: string;
  body: string;
}

export function delivery(event: string, payload: unknown, id: string = randomUUID()): Delivery {
  return { event, id, body: JSON.stringify(payload) };
}

/** POSTs a delivery; `signature` overrides the correct one (a forgery). */
export async function post(url: string, secret: string, d: Delivery, signature?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": d.event,
      "x-github-delivery": d.id,
      "x-hub-signature-256": signature ?? sign(secret, d.body),
      "user-agent": "GitHub-Hookshot/e2e",
    },
    body: d.body,
  });
  return { status: res.status, text: await res.text() };
}
