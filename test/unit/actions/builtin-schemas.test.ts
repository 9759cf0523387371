import { describe, expect, it } from "vitest";
import { builtinActions, defaultRegistry } from "../../../src/actions/index.js";
import { githubTeamMembership } from "../../../src/actions/builtin/github-team-membership.js";
import { githubWorkflowDispatch } from "../../../src/actions/builtin/github-workflow-dispatch.js";
import { getPointer } from "../../../src/actions/builtin/json-pointer.js";
import { scramSha256Verifier, scramVerifierMatches } from "../../../src/actions/builtin/scram.js";
import { compileSchema, schemaErrors } from "../../../src/formats/schema-check.js";

describe("built-in actions", () => {
  it("are all registered once, with valid input and output schemas", () => {
    const names = defaultRegistry().names();
    for (const n of ["http.request", "github.workflow-dispatch", "github.team-membership", "postgres.rotate-password", "postgres.sql", "secret.generate", "shell", "wait"]) {
      expect(names).toContain(n);
    }
    for (const a of builtinActions()) {
      expect(schemaErrors(a.input), `${a.name} input`).toEqual([]);
      expect(schemaErrors(a.output), `${a.name} output`).toEqual([]);
    }
  });

  it("reject unknown fields in `with` (a typo is a validation error, not a silent no-op)", () => {
    for (const a of builtinActions()) {
      if (a.input.additionalProperties !== false) continue;
      expect(compileSchema(a.input)({ definitelyNotAField: 1 }), a.name).toBe(false);
    }
  });

  it("github.team-membership and workflow-dispatch catch common mistakes", () => {
    const team = compileSchema(githubTeamMembership.input);
    expect(team({ org: "acme", team: "dba", username: "bob" })).toBe(true);
    expect(team({ org: "acme", team: "dba", username: "bob; rm -rf /" })).toBe(false);
    expect(team({ org: "acme", team: "@acme/dba", username: "bob" })).toBe(false);
    expect(team({ org: "acme", team: "dba", username: "bob", role: "admin" })).toBe(false);
    const dispatch = compileSchema(githubWorkflowDispatch.input);
    expect(dispatch({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", inputs: { a: "1", b: 2, c: true } })).toBe(true);
    expect(dispatch({ repository: "acme", workflow: "deploy.yml", ref: "main" })).toBe(false);
    expect(dispatch({ repository: "acme/ops", workflow: "deploy", ref: "main" })).toBe(false);
    expect(dispatch({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", inputs: { a: { nested: 1 } } })).toBe(false);
    expect(dispatch({ repository: "acme/ops", workflow: "deploy.yml", ref: "main", inputs: Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`k${i}`, "v"])) })).toBe(false);
  });
});

describe("json pointer", () => {
  const doc = { a: { "b/c": [10, { "~k": "v" }] }, n: null };
  it("follows RFC 6901, escapes included", () => {
    expect(getPointer(doc, "/a/b~1c/0")).toBe(10);
    expect(getPointer(doc, "/a/b~1c/1/~0k")).toBe("v");
    expect(getPointer(doc, "/n")).toBeNull();
    expect(getPointer(doc, "")).toBe(doc);
  });
  it("returns undefined for missing paths and inherited keys", () => {
    expect(getPointer(doc, "/a/x")).toBeUndefined();
    expect(getPointer(doc, "/a/b~1c/01")).toBeUndefined();
    expect(getPointer(doc, "/a/constructor")).toBeUndefined();
  });
});

describe("SCRAM verifier", () => {
  it("matches RFC 7677's test vector shape and verifies only the right password", () => {
    const v = scramSha256Verifier("pencil", Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"));
    // RFC 7677 §3: SaltedPassword for "pencil" with this salt gives these stored/server keys.
    expect(v).toBe("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
    expect(scramVerifierMatches(v, "pencil")).toBe(true);
    expect(scramVerifierMatches(v, "pencil ")).toBe(false);
    expect(scramVerifierMatches("md5abc", "pencil")).toBe(false);
  });
  it("uses a fresh salt each time", () => {
    expect(scramSha256Verifier("same")).not.toBe(scramSha256Verifier("same"));
  });
});
