/** The check_run payloads a click or a re-run sends, read defensively; the refusal note on the check. */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { requestedAction, rerequested } from "../../../../src/github/handlers/check-run-payload.js";
import { refusalNote } from "../../../../src/github/handlers/run-action-handler.js";

const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: Record<string, unknown>[] }[];
const example = (event: string, action: string): Record<string, unknown> =>
  structuredClone(examples.find((d) => d.name === event)!.examples.find((e) => e.action === action && e.installation)!);

function click(mutate: (b: Record<string, unknown>) => void = () => undefined): Record<string, unknown> {
  const b = example("check_run", "requested_action");
  (b.check_run as Record<string, unknown>).head_sha = "a".repeat(40);
  (b.check_run as Record<string, unknown>).external_id = "run-1";
  mutate(b);
  return b;
}

describe("requestedAction", () => {
  it("reads the check, the button and the clicker from a real payload", () => {
    expect(requestedAction("check_run", click())).toMatchObject({
      owner: "electron",
      repo: "electron",
      checkRunId: 1494503112,
      checkName: "API Review",
      headSha: "a".repeat(40),
      externalId: "run-1",
      identifier: "lgtm|26764",
      clicker: { login: "codebytere", type: "User" },
      output: { title: "Pending" },
    });
  });

  it.each<[string, (b: Record<string, unknown>) => void]>([
    ["another action", (b) => (b.action = "created")],
    ["no requested_action", (b) => delete b.requested_action],
    ["a non-string identifier", (b) => (b.requested_action = { identifier: ["retry"] })],
    ["a short head SHA", (b) => ((b.check_run as Record<string, unknown>).head_sha = "abc")],
    ["an id that is not a safe integer", (b) => ((b.check_run as Record<string, unknown>).id = 2 ** 60)],
    ["a negative id", (b) => ((b.check_run as Record<string, unknown>).id = -1)],
    ["no sender login", (b) => ((b.sender as Record<string, unknown>).login = "")],
    ["no repository owner", (b) => delete (b.repository as Record<string, unknown>).owner],
    ["a check_run that is an array", (b) => (b.check_run = [])],
  ])("is null for %s", (_name, mutate) => {
    expect(requestedAction("check_run", click(mutate))).toBeNull();
  });

  it("is null for other events", () => {
    expect(requestedAction("check_suite", click())).toBeNull();
  });

  it("an empty external_id is none; a missing sender type claims no User account", () => {
    const r = requestedAction("check_run", click((b) => {
      (b.check_run as Record<string, unknown>).external_id = "";
      delete (b.sender as Record<string, unknown>).type;
    }));
    expect(r).toMatchObject({ externalId: null, clicker: { type: "Unknown" } });
  });
});

describe("rerequested", () => {
  it("reads the check name and the PR numbers of a check run re-run", () => {
    const r = rerequested("check_run", example("check_run", "rerequested"));
    expect(r).not.toBeNull();
    expect(r!.checkName).toEqual(expect.any(String));
    expect(r!.pullNumbers.every((n) => Number.isSafeInteger(n) && n > 0)).toBe(true);
  });

  it("a suite re-run has no check name; hostile PR lists are cut and cleaned", () => {
    const b = example("check_suite", "rerequested");
    (b.check_suite as Record<string, unknown>).pull_requests = [{ number: 3 }, { number: 3 }, { number: "4" }, { number: -1 }, null, ...Array.from({ length: 20 }, (_, i) => ({ number: 10 + i }))];
    const r = rerequested("check_suite", b)!;
    expect(r.checkName).toBeNull();
    expect(r.pullNumbers).toEqual([3, 10, 11, 12, 13]);
  });

  it("is null for other actions", () => {
    expect(rerequested("check_suite", example("check_suite", "requested"))).toBeNull();
  });
});

describe("refusalNote", () => {
  const base = requestedAction("check_run", click())!;
  const at = new Date("2026-12-02T10:00:00Z");

  it("says who was refused, when and why, with no HTML from logins or reasons", () => {
    const note = refusalNote({ ...base, clicker: { login: "<img src=x>", type: "User" } }, "rollback", "path <b>x</b> & co", at);
    expect(note).toContain("**Roll back** was refused for @&lt;img src=x&gt; at 2026-12-02T10:00:00.000Z: path &lt;b&gt;x&lt;/b&gt; &amp; co");
    expect(note).not.toMatch(/<img|<b>/);
  });

  it("replaces an earlier note and keeps the reporter's text below it", () => {
    const first = refusalNote({ ...base, output: { ...base.output, text: "step table" } }, "retry", "first", at);
    const second = refusalNote({ ...base, output: { ...base.output, text: first } }, "cancel", "second", at);
    expect(second).toContain("**Cancel run** was refused");
    expect(second).not.toContain("first");
    expect(second.endsWith("step table")).toBe(true);
  });

  it("stays within GitHub's limit however long the text was", () => {
    expect(refusalNote({ ...base, output: { ...base.output, text: "x".repeat(70_000) } }, "retry", "r", at).length).toBeLessThanOrEqual(65_535);
  });
});
