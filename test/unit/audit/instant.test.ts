import { describe, expect, it } from "vitest";
import { parseInstant } from "../../../src/audit/instant.js";

describe("parseInstant", () => {
  it("reads a date as midnight UTC and a time with its zone", () => {
    expect(parseInstant("2026-11-29")).toEqual({ at: new Date(Date.UTC(2026, 10, 29)) });
    expect(parseInstant("2026-11-29T10:00:00Z")).toEqual({ at: new Date(Date.UTC(2026, 10, 29, 10)) });
    expect(parseInstant("2026-11-29T12:30+02:00")).toEqual({ at: new Date(Date.UTC(2026, 10, 29, 10, 30)) });
    // Microseconds as the audit rows print them are accepted and cut to milliseconds.
    expect(parseInstant("2026-11-29T08:51:11.240123Z")).toEqual({ at: new Date(Date.UTC(2026, 10, 29, 8, 51, 11, 240)) });
  });

  it("refuses a time without a zone instead of guessing the local one", () => {
    expect(parseInstant("2026-11-29T10:00:00")).toEqual({ error: expect.stringMatching(/with a zone/) });
  });

  it("refuses dates that do not exist and text that is not a date", () => {
    expect(parseInstant("2026-02-30")).toEqual({ error: '"2026-02-30" is not a real date' });
    expect(parseInstant("2026-13-01T00:00:00Z")).toEqual({ error: expect.stringMatching(/not a real date/) });
    expect(parseInstant("yesterday")).toEqual({ error: expect.stringMatching(/not an ISO 8601 date/) });
    expect(parseInstant("")).toEqual({ error: expect.stringMatching(/not an ISO 8601 date/) });
  });
});
