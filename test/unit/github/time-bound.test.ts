import { describe, expect, it } from "vitest";
import type { Plan } from "../../../src/formats/index.js";
import { timeBoundConflicts, type InForce } from "../../../src/github/time-bound.js";

const NOW = new Date("2026-12-02T10:00:00Z");
const plan = (over: Partial<Plan> = {}): Plan =>
  ({
    requestPath: "requests/a.yaml",
    workflow: "temporary-access",
    reason: "INC-1",
    params: {},
    lock: "access:prod-readers/dave",
    expires: { after: "2h", max: "8h", afterMs: 7_200_000, maxMs: 28_800_000 },
    stages: [],
    steps: [],
    ...over,
  }) as Plan;
const held: InForce = {
  runId: "3f1c0a52-0000-4000-8000-000000000001",
  workflow: "temporary-access",
  repository: "acme/ops",
  pullRequest: 7,
  requester: "dave",
  lockKey: "access:prod-readers/dave",
  expiresAt: new Date("2026-12-02T11:00:00Z"),
  maxAt: new Date("2026-12-02T17:00:00Z"),
};

describe("time-bound requests at plan time", () => {
  it("a request for a lock a time-bound run holds is refused, naming the run to extend", () => {
    expect(timeBoundConflicts(plan(), "acme/ops", { onLock: [held], target: null, now: NOW })).toEqual([
      `run ${held.runId} (temporary-access, requested by @dave in #7) already holds access:prod-readers/dave until 2026-12-02 11:00 UTC: extend it with \`extends: ${held.runId}\` instead, or wait until it ends`,
    ]);
    expect(timeBoundConflicts(plan(), "acme/ops", { onLock: [], target: null, now: NOW })).toEqual([]);
    expect(timeBoundConflicts(plan({ expires: undefined }), "acme/ops", { onLock: [held], target: null, now: NOW })).toEqual([]);
  });

  const ext = (over: Partial<Plan> = {}) => plan({ extends: held.runId, ...over });
  it.each([
    ["a run in force of the same workflow, repository and lock, within its maximum", ext(), held, []],
    ["a run that is not in force", ext(), null, [/is not a time-bound run in force/]],
    ["a run of another repository", ext(), { ...held, repository: "acme/other" }, [/belongs to acme\/other, not acme\/ops/]],
    ["a run of another workflow", ext(), { ...held, workflow: "maintenance-mode" }, [/ran maintenance-mode, not temporary-access/]],
    ["a run holding another lock", ext(), { ...held, lockKey: "access:prod-admins/dave" }, [/holds access:prod-admins\/dave, while this request is for access:prod-readers\/dave/]],
    ["a duration past the run's maximum", ext({ expires: { after: "8h", max: "8h", afterMs: 28_800_000, maxMs: 28_800_000 } }), held, [/8h from now \(2026-12-02 18:00 UTC\) passes run .*'s maximum, 2026-12-02 17:00 UTC/]],
  ] as const)("an extension of %s", (_name, p, target, expected) => {
    const out = timeBoundConflicts(p, "acme/ops", { onLock: [held], target, now: NOW });
    expect(out).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(out[i]).toMatch(re));
  });
});
