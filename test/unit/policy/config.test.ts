import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_SCHEMA, loadPolicyConfig, mergeConfig } from "../../../src/policy/index.js";

describe("mergeConfig (org defaults, then the repository's file on top)", () => {
  it("merges objects key by key, replaces scalars and adds lists up (org entries first, no duplicates)", () => {
    const org = { minApprovals: 2, vetoTeams: ["@acme/security"], freeze: [{ weekly: { days: ["sat"] } }], breakGlass: { label: "sev1", requireReason: true } };
    const repo = { minApprovals: 3, vetoTeams: ["@acme/security", "@acme/dba"], freeze: [{ weekly: { days: ["sun"] } }], breakGlass: { minApprovals: 1 } };
    expect(mergeConfig(org, repo)).toEqual({
      minApprovals: 3,
      vetoTeams: ["@acme/security", "@acme/dba"],
      freeze: [{ weekly: { days: ["sat"] } }, { weekly: { days: ["sun"] } }],
      breakGlass: { label: "sev1", requireReason: true, minApprovals: 1 },
    });
  });

  it("a repository cannot drop an org-wide veto team or freeze window by listing its own", () => {
    const merged = mergeConfig({ vetoTeams: ["@acme/security"] }, { vetoTeams: [] }) as { vetoTeams: string[] };
    expect(merged.vetoTeams).toEqual(["@acme/security"]);
  });
  it("either side may be missing", () => {
    expect(mergeConfig(undefined, { minApprovals: 3 })).toEqual({ minApprovals: 3 });
    expect(mergeConfig({ minApprovals: 3 }, null)).toEqual({ minApprovals: 3 });
    expect(mergeConfig(undefined, undefined)).toEqual({});
  });
  it("a __proto__ key stays a key (which the schema then rejects), never the merged object's prototype", () => {
    const repo = JSON.parse('{"__proto__": {"minApprovals": 0}}');
    const merged = mergeConfig({ staleApprovals: "keep" }, repo) as object;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.hasOwn(merged, "__proto__")).toBe(true);
    const r = loadPolicyConfig(merged);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual(['(top level): unknown setting "__proto__"']);
  });
  it("the repository may switch break-glass off entirely", () => {
    expect(mergeConfig({ breakGlass: { label: "sev1" } }, { breakGlass: false })).toEqual({ breakGlass: false });
  });
});

describe("loadPolicyConfig", () => {
  it("an absent file means the documented defaults", () => {
    const r = loadPolicyConfig(undefined);
    if (!r.ok) throw new Error(r.errors.join("\n"));
    expect(r.config).toMatchObject({
      minApprovals: 1,
      staleApprovals: "content",
      botsMayRequest: false,
      breakGlass: { enabled: true, label: "break-glass", requireReason: true, minApprovals: null, allowDuringFreeze: true },
      controlPlane: { paths: ["/workflows/", "/.github/"], owners: [], minApprovals: 1, allowWithRequests: false },
    });
  });
  const bad: { name: string; config: unknown; error: RegExp }[] = [
    { name: "unknown time zone", config: { freeze: [{ weekly: { days: ["fri"] }, timeZone: "Mars/Olympus" }] }, error: /freeze\.0\.timeZone: unknown time zone "Mars\/Olympus"/ },
    { name: "unsupported path pattern", config: { paths: [{ pattern: "/requests/[ab]/" }] }, error: /paths\.0\.pattern: character ranges/ },
    { name: "a window with both dates and weekly", config: { freeze: [{ from: "2026-12-01", to: "2026-12-02", weekly: { days: ["fri"] } }] }, error: /freeze\.0: a freeze window needs either from and to, or weekly/ },
    { name: "an impossible month", config: { freeze: [{ from: "2026-13-40", to: "2026-12-02" }] }, error: /freeze\.0\.from: "2026-13-40": month 13 does not exist/ },
    { name: "a day the month does not have", config: { freeze: [{ from: "2026-02-01", to: "2026-02-30" }] }, error: /freeze\.0\.to: "2026-02-30": day 30 does not exist in 2026-02/ },
    { name: "an impossible time", config: { freeze: [{ from: "2026-12-20T25:00", to: "2026-12-21" }] }, error: /freeze\.0\.from: "2026-12-20T25:00": time 25:00 does not exist/ },
    { name: "a range that ends before it starts", config: { freeze: [{ from: "2026-12-20", to: "2026-12-01" }] }, error: /freeze\.0: ends \("2026-12-01"\) before it starts \("2026-12-20"\), so it would never freeze anything/ },
    { name: "a weekly window with equal from and to", config: { freeze: [{ weekly: { days: ["fri"], from: "16:00", to: "16:00" } }] }, error: /freeze\.0\.weekly: from and to are both 16:00/ },
    { name: "a weekly window starting at 24:00", config: { freeze: [{ weekly: { days: ["fri"], from: "24:00" } }] }, error: /freeze\.0\.weekly\.from: 24:00 is the end of a day/ },
    { name: "a range of zero length", config: { freeze: [{ from: "2026-12-20T10:00:00Z", to: "2026-12-20T10:00:00Z" }] }, error: /freeze\.0: ends .* before it starts/ },
    { name: "a bad weekday", config: { freeze: [{ weekly: { days: ["friday"] } }] }, error: /freeze\.0\.weekly\.days\.0: must be one of/ },
    { name: "zero approvals at break-glass", config: { breakGlass: { minApprovals: 0 } }, error: /breakGlass\.minApprovals: must be >= 1/ },
    { name: "a malformed owner", config: { vetoTeams: ["security"] }, error: /vetoTeams\.0: must match pattern/ },
    { name: "not an object", config: "minApprovals: 2", error: /must be object/ },
  ];
  it("a one-day range (bare from and to on the same date) is valid", () => {
    expect(loadPolicyConfig({ freeze: [{ from: "2026-12-24", to: "2026-12-24" }] }).ok).toBe(true);
  });
  for (const row of bad) {
    it(`rejects ${row.name}`, () => {
      const r = loadPolicyConfig(row.config);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors.join("\n")).toMatch(row.error);
    });
  }
});

describe("the shipped JSON Schema file", () => {
  it("is exactly the schema the code validates with", () => {
    const file = JSON.parse(readFileSync(new URL("../../../src/policy/schemas/clutch-luigi.schema.json", import.meta.url), "utf8"));
    expect(file).toEqual(CONFIG_SCHEMA);
  });
});
