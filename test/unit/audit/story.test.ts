import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { AuditRow } from "../../../src/store/audit.js";
import type { RunRecord } from "../../../src/store/audit-query.js";
import { renderRunStory } from "../../../src/audit/story.js";

const CHAIN: AuditRow[] = readFileSync(new URL("../../fixtures/audit/demo-chain.jsonl", import.meta.url), "utf8")
  .trimEnd()
  .split("\n")
  .map((l) => JSON.parse(l) as AuditRow);
/** The demo's second run: a retry, a failed verification, and a rollback of everything before it. */
const RUN_ID = CHAIN.find((r) => r.kind === "run.rolled_back")!.run_id!;
const EVENTS = CHAIN.filter((r) => r.run_id === RUN_ID);

function record(overrides: Partial<RunRecord> = {}): RunRecord {
  const created = EVENTS[0]!.data;
  return {
    run: {
      id: RUN_ID,
      workflow: String(created.workflow),
      requestPath: String(created.requestPath),
      spec: { request: { reason: "DEMO-1 show the engine", params: { change: "feature-x", verifyFailures: 99 } } },
      identity: { repository: created.repository, requester: { login: "local", type: "User" }, approvers: [] },
      state: "rolled_back",
      error: null,
      createdAt: EVENTS[0]!.at,
      finishedAt: EVENTS.at(-1)!.at,
    },
    steps: [],
    attempts: [],
    events: EVENTS,
    head: { seq: CHAIN.at(-1)!.seq, hash: CHAIN.at(-1)!.hash },
    ...overrides,
  };
}

describe("renderRunStory", () => {
  it("tells a consistent run with no problems, parameter names but not values", () => {
    const story = renderRunStory(RUN_ID, record());
    expect(story.problems).toEqual([]);
    const text = story.lines.join("\n");
    expect(text).toMatch(/params\s+change, verifyFailures/);
    expect(text).not.toContain("feature-x  ");
    expect(text).not.toMatch(/\b99\b/);
    expect(text).toMatch(/run\s+rolled_back — step verify failed \(http-4xx\): health check answered 409/);
    expect(text).toContain(`last row      seq ${EVENTS.at(-1)!.seq}  hash ${EVENTS.at(-1)!.hash}`);
  });

  it("still tells the story from the audit rows when the runs row is gone", () => {
    const story = renderRunStory(RUN_ID, record({ run: null }));
    expect(story.problems).toEqual(["the runs row is gone; everything below comes from the audit rows"]);
    expect(story.lines.join("\n")).toMatch(/workflow\s+demo-rollout/);
  });

  it("reports a run whose table state and trail disagree, and a row that does not hash", () => {
    const bad = EVENTS.map((e, i) => (i === 3 ? { ...e, actor: "mallory" } : e));
    const story = renderRunStory(RUN_ID, record({ events: bad, run: { ...record().run!, state: "succeeded" } }));
    expect(story.problems).toEqual([
      "the runs table says succeeded, the audit trail says rolled_back",
      `row seq ${EVENTS[3]!.seq}: actor differs from the hashed body`,
    ]);
    expect(story.lines).toContain("PROBLEMS");
  });
});
