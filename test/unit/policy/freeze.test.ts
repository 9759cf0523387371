import { describe, expect, it } from "vitest";
import { activeFreezes, isFreezeActive } from "../../../src/policy/index.js";
import type { FreezeWindow } from "../../../src/policy/config.js";

const at = (iso: string): Date => new Date(iso);

describe("weekly freeze windows in a time zone", () => {
  const fridayAfternoon: FreezeWindow = { weekly: { days: ["fri"], from: "16:00" }, timeZone: "Europe/Berlin" };
  const table: { name: string; window: FreezeWindow; now: string; active: boolean }[] = [
    { name: "Friday 16:30 CET (winter) is inside", window: fridayAfternoon, now: "2026-11-27T15:30:00Z", active: true },
    { name: "Friday 15:59 CET is outside", window: fridayAfternoon, now: "2026-11-27T14:59:00Z", active: false },
    { name: "Friday 16:30 CEST (summer): same wall clock, different UTC", window: fridayAfternoon, now: "2026-07-03T14:30:00Z", active: true },
    { name: "Friday 15:59 CEST is outside", window: fridayAfternoon, now: "2026-07-03T13:59:00Z", active: false },
    { name: "Friday 23:30 UTC is already Saturday in Berlin", window: fridayAfternoon, now: "2026-11-27T23:30:00Z", active: false },
    { name: "whole days: Saturday in New York", window: { weekly: { days: ["sat", "sun"] }, timeZone: "America/New_York" }, now: "2026-11-29T03:00:00Z", active: true },
    { name: "whole days: Monday 00:30 UTC is still Sunday in New York", window: { weekly: { days: ["sun"] }, timeZone: "America/New_York" }, now: "2026-11-30T00:30:00Z", active: true },
    { name: "overnight window runs into the next day", window: { weekly: { days: ["fri"], from: "22:00", to: "06:00" }, timeZone: "UTC" }, now: "2026-11-28T05:00:00Z", active: true },
    { name: "overnight window ends at its end time", window: { weekly: { days: ["fri"], from: "22:00", to: "06:00" }, timeZone: "UTC" }, now: "2026-11-28T06:00:00Z", active: false },
    { name: "overnight window does not start before its start time", window: { weekly: { days: ["fri"], from: "22:00", to: "06:00" }, timeZone: "UTC" }, now: "2026-11-27T21:59:00Z", active: false },
  ];
  for (const row of table) it(row.name, () => expect(isFreezeActive(row.window, at(row.now))).toBe(row.active));
});

describe("daylight-saving transitions (wall-clock times in the window's zone)", () => {
  // Europe/Berlin springs forward on 2026-03-29 (02:00 CET → 03:00 CEST, at 01:00Z)
  // and falls back on 2026-10-25 (03:00 CEST → 02:00 CET, at 01:00Z).
  // America/New_York springs forward on 2026-03-08 (02:00 EST → 03:00 EDT, at 07:00Z).
  const intoGap: FreezeWindow = { weekly: { days: ["sun"], from: "02:30", to: "04:00" }, timeZone: "Europe/Berlin" };
  const repeated: FreezeWindow = { weekly: { days: ["sun"], from: "02:00", to: "03:00" }, timeZone: "Europe/Berlin" };
  const endsInGap: FreezeWindow = { weekly: { days: ["sun"], from: "01:00", to: "02:30" }, timeZone: "America/New_York" };
  const acrossSpring: FreezeWindow = { from: "2026-03-28T12:00", to: "2026-03-29T12:00", timeZone: "Europe/Berlin" };
  const table: { name: string; window: FreezeWindow; now: string; active: boolean }[] = [
    { name: "spring forward: 01:59 CET, before a window starting at the skipped 02:30", window: intoGap, now: "2026-03-29T00:59:00Z", active: false },
    { name: "spring forward: a window starting in the skipped hour opens at 03:00 CEST", window: intoGap, now: "2026-03-29T01:00:00Z", active: true },
    { name: "spring forward: 03:59 CEST is inside", window: intoGap, now: "2026-03-29T01:59:00Z", active: true },
    { name: "spring forward: closes at 04:00 CEST", window: intoGap, now: "2026-03-29T02:00:00Z", active: false },
    { name: "fall back: 01:59 CEST is before the window", window: repeated, now: "2026-10-24T23:59:00Z", active: false },
    { name: "fall back: the first 02:00 (CEST) is inside", window: repeated, now: "2026-10-25T00:00:00Z", active: true },
    { name: "fall back: the first 02:59 (CEST) is inside", window: repeated, now: "2026-10-25T00:59:00Z", active: true },
    { name: "fall back: the repeated 02:00 (CET) is inside too", window: repeated, now: "2026-10-25T01:00:00Z", active: true },
    { name: "fall back: the repeated 02:59 (CET) is inside", window: repeated, now: "2026-10-25T01:59:00Z", active: true },
    { name: "fall back: closes at 03:00 CET, two real hours after it opened", window: repeated, now: "2026-10-25T02:00:00Z", active: false },
    { name: "New York spring forward: 01:59 EST is inside", window: endsInGap, now: "2026-03-08T06:59:00Z", active: true },
    { name: "New York spring forward: a window ending in the skipped hour ends at the jump (03:00 EDT)", window: endsInGap, now: "2026-03-08T07:00:00Z", active: false },
    { name: "a date range across spring forward starts at 12:00 CET", window: acrossSpring, now: "2026-03-28T11:00:00Z", active: true },
    { name: "and ends at 12:00 CEST, an hour earlier in UTC", window: acrossSpring, now: "2026-03-29T09:59:00Z", active: true },
    { name: "after 12:00 CEST the range is over", window: acrossSpring, now: "2026-03-29T10:00:00Z", active: false },
  ];
  for (const row of table) it(row.name, () => expect(isFreezeActive(row.window, at(row.now))).toBe(row.active));
});

describe("date-range freeze windows", () => {
  const yearEnd: FreezeWindow = { from: "2026-12-20", to: "2027-01-03", timeZone: "Europe/Berlin" };
  const table: { name: string; window: FreezeWindow; now: string; active: boolean }[] = [
    { name: "starts at local midnight", window: yearEnd, now: "2026-12-19T23:00:00Z", active: true },
    { name: "not before local midnight", window: yearEnd, now: "2026-12-19T22:59:00Z", active: false },
    { name: "a bare end date includes that whole local day", window: yearEnd, now: "2027-01-03T22:59:00Z", active: true },
    { name: "and ends at the next local midnight", window: yearEnd, now: "2027-01-03T23:00:00Z", active: false },
    { name: "local times are honoured", window: { from: "2026-12-20T18:00", to: "2026-12-20T20:00", timeZone: "America/Los_Angeles" }, now: "2026-12-21T03:30:00Z", active: true },
    { name: "an explicit offset is an instant", window: { from: "2026-12-20T00:00:00Z", to: "2026-12-21T00:00:00+01:00" }, now: "2026-12-20T23:30:00Z", active: false },
    { name: "the default zone is UTC", window: { from: "2026-12-20", to: "2026-12-20" }, now: "2026-12-20T23:59:59Z", active: true },
  ];
  for (const row of table) it(row.name, () => expect(isFreezeActive(row.window, at(row.now))).toBe(row.active));

  it("a window scoped to workflows applies only to requests naming one of them", () => {
    const w: FreezeWindow = { ...yearEnd, workflows: ["deploy"] };
    expect(activeFreezes([w], at("2026-12-24T12:00:00Z"), ["rotate"])).toEqual([]);
    expect(activeFreezes([w], at("2026-12-24T12:00:00Z"), ["rotate", "deploy"])).toEqual([w]);
  });
});
