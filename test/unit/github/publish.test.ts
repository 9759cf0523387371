/**
 * What the publisher writes for a check, given what GitHub shows now: nothing
 * for the same payload, an update in place while GitHub allows one, and a new
 * run only for a changed conclusion of a completed run or for annotations that
 * would have to be taken away.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { publishAction, type CheckPayload } from "../../../src/github/publish.js";
import { canonicalJson } from "../../../src/store/audit.js";

const hash = (v: unknown) => createHash("sha256").update(canonicalJson(v)).digest("hex");

const payload = (over: Partial<CheckPayload> = {}, annotations?: CheckPayload["output"]["annotations"]): CheckPayload => ({
  name: "clutch-luigi/policy",
  head_sha: "a".repeat(40),
  status: "completed",
  conclusion: "action_required",
  output: { title: "Needs approval", summary: "…", ...(annotations ? { annotations } : {}) },
  ...over,
});
const shown = (p: CheckPayload) => ({ status: p.status, conclusion: p.conclusion ?? null, payloadHash: hash(p), annotationsHash: hash(p.output.annotations ?? []) });
const note = { path: "requests/a.yaml", start_line: 1, end_line: 1, annotation_level: "failure" as const, message: "bad" };

describe("publishAction", () => {
  it("creates the first run of a name on a head", () => {
    expect(publishAction(null, payload())).toBe("create");
  });
  it("writes nothing when the payload is what GitHub shows", () => {
    expect(publishAction(shown(payload()), payload())).toBe("none");
  });
  it("updates in place when only the text changes", () => {
    expect(publishAction(shown(payload()), payload({ output: { title: "Needs approval", summary: "changed" } }))).toBe("update-keeping-annotations");
  });
  it("creates a new run when a completed run's conclusion must change (GitHub keeps it)", () => {
    expect(publishAction(shown(payload()), payload({ conclusion: "success" }))).toBe("create");
  });
  it("updates an in-progress run to its completion in place", () => {
    const running = payload({ name: "clutch-luigi/run", status: "in_progress" });
    delete running.conclusion;
    expect(publishAction(shown(running), payload({ name: "clutch-luigi/run", conclusion: "success" }))).toBe("update-keeping-annotations");
  });
  it("adds annotations to a run that has none in place, but replaces a run whose annotations would have to go", () => {
    expect(publishAction(shown(payload({ conclusion: "failure" })), payload({ conclusion: "failure" }, [note]))).toBe("update");
    expect(publishAction(shown(payload({ conclusion: "failure" }, [note])), payload({ conclusion: "failure" }, [{ ...note, message: "other" }]))).toBe("create");
    expect(publishAction(shown(payload({ conclusion: "failure" }, [note])), payload({ conclusion: "failure" }))).toBe("create");
  });
});
