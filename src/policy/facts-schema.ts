/**
 * Shape check of a facts snapshot, so a malformed one (hand-written for the
 * CLI, or a broken adapter) gets a blocking verdict with a clear message
 * instead of a crash or, worse, an approval.
 */
import { Ajv, type ErrorObject } from "ajv";
import type { JsonSchema } from "../formats/types.js";
import { boundProblem } from "./freeze.js";

const actor: JsonSchema = {
  type: "object",
  required: ["login", "type"],
  properties: { login: { type: "string", minLength: 1 }, type: { type: "string" } },
};

const dateTime = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$";

const blobSide: JsonSchema = { type: ["string", "null"], minLength: 1 };

const change: JsonSchema = {
  type: "object",
  required: ["base", "paths"],
  properties: {
    base: { type: "string", minLength: 1 },
    paths: { type: "object", additionalProperties: { type: "array", minItems: 2, maxItems: 2, items: blobSide } },
  },
};

export const FACTS_SCHEMA: JsonSchema = {
  type: "object",
  required: ["repository", "author", "headSha", "files", "reviews", "teams"],
  properties: {
    repository: { type: "string", pattern: "^[^/\\s]+/[^/\\s]+$" },
    author: actor,
    headSha: { type: "string", minLength: 1 },
    files: {
      type: "array",
      items: {
        type: "object",
        required: ["path", "status"],
        properties: {
          path: { type: "string", minLength: 1 },
          status: { enum: ["added", "removed", "modified", "renamed", "copied", "changed", "unchanged"] },
          previousPath: { type: "string", minLength: 1 },
          sha: { type: ["string", "null"] },
        },
      },
    },
    reviews: {
      type: "array",
      items: {
        type: "object",
        required: ["id", "user", "state", "commitId", "submittedAt"],
        properties: {
          id: { type: "integer" },
          user: actor,
          state: { enum: ["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"] },
          commitId: { type: "string", minLength: 1 },
          submittedAt: { type: "string", pattern: dateTime },
        },
      },
    },
    teams: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
    codeowners: { type: ["string", "null"] },
    codeownersPath: { type: "string" },
    workflows: {
      type: "object",
      additionalProperties: {
        type: "object",
        properties: {
          approval: {
            type: "object",
            properties: {
              minApprovals: { type: "integer", minimum: 1 },
              from: { type: "array", items: { type: "string" } },
            },
          },
        },
      },
    },
    labels: { type: "array", items: { type: "string" } },
    body: { type: ["string", "null"] },
    requests: {
      type: "array",
      items: {
        type: "object",
        required: ["path", "workflow"],
        properties: { path: { type: "string" }, workflow: { type: "string" } },
      },
    },
    change: change,
    reviewedChanges: {
      type: "array",
      items: { ...change, required: ["commit", ...(change.required as string[])], properties: { ...(change.properties as Record<string, JsonSchema>), commit: { type: "string", minLength: 1 } } },
    },
    baseChanges: {
      type: "array",
      items: {
        type: "object",
        required: ["at"],
        properties: { at: { type: "string", pattern: dateTime }, kind: { enum: ["retarget", "force-push"] }, from: { type: "string", minLength: 1 } },
      },
    },
    emails: { type: "object", additionalProperties: { type: "string" } },
    committers: { type: "array", items: { type: "string" } },
    permissions: { type: "object", additionalProperties: { enum: ["admin", "maintain", "write", "triage", "read", "none"] } },
    now: { type: "string", pattern: dateTime },
  },
};

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
const validate = ajv.compile(FACTS_SCHEMA);

function format(e: ErrorObject): string {
  const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, ".") : "facts";
  return `${where}: ${e.message ?? "is invalid"}`;
}

/** Problems with a facts snapshot; empty when it is usable. */
export function checkFacts(facts: unknown): string[] {
  if (!validate(facts)) return [...new Set((validate.errors ?? []).map(format))];
  // The schema checks the shape of times; an impossible one (2026-02-30, 25:00)
  // would order reviews or place "now" arbitrarily, so it is refused too.
  const f = facts as { reviews: { submittedAt: string }[]; now?: string; baseChanges?: { at: string }[] };
  const problems: string[] = [];
  f.baseChanges?.forEach((c, i) => {
    const p = boundProblem(c.at);
    if (p) problems.push(`baseChanges.${i}.at: "${c.at}": ${p}`);
  });
  f.reviews.forEach((r, i) => {
    const p = boundProblem(r.submittedAt);
    if (p) problems.push(`reviews.${i}.submittedAt: "${r.submittedAt}": ${p}`);
  });
  if (f.now !== undefined) {
    const p = boundProblem(f.now);
    if (p) problems.push(`now: "${f.now}": ${p}`);
  }
  return problems;
}
