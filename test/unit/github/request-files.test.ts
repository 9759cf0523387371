import { describe, expect, it } from "vitest";
import { isRequestPath, selectRequest } from "../../../src/github/request-files.js";

describe("isRequestPath", () => {
  it("matches YAML files anywhere under requests/ and nothing else", () => {
    for (const p of ["requests/a.yaml", "requests/2026/prod/a.yml"]) expect(isRequestPath(p), p).toBe(true);
    for (const p of ["requests/", "requests/a.json", "workflows/a.yaml", "x/requests/a.yaml", "requests.yaml", "requests/a.yaml/b"]) expect(isRequestPath(p), p).toBe(false);
  });
});

describe("selectRequest", () => {
  it("takes the one added request and ignores other files", () => {
    expect(selectRequest([{ path: "README.md", status: "modified" }, { path: "requests/a.yaml", status: "added" }])).toEqual({ path: "requests/a.yaml", problems: [] });
  });

  it("has no request for a PR without request files", () => {
    expect(selectRequest([{ path: "workflows/x.yaml", status: "modified" }])).toEqual({ path: null, problems: [] });
  });

  it("refuses an edited, renamed-in or renamed-out request", () => {
    const r = selectRequest([
      { path: "requests/a.yaml", status: "modified" },
      { path: "requests/new.yaml", status: "renamed", previousPath: "requests/old.yaml" },
      { path: "archive/old.yaml", status: "renamed", previousPath: "requests/older.yaml" },
    ]);
    expect(r.path).toBeNull();
    expect(r.problems.map((p) => [p.code, p.file])).toEqual([
      ["request-edited", "requests/a.yaml"],
      ["request-edited", "requests/new.yaml"],
      ["request-edited", "archive/old.yaml"],
    ]);
    expect(r.problems[1]!.message).toContain("renamed from requests/old.yaml");
  });

  it("refuses two added requests, naming both", () => {
    const r = selectRequest([{ path: "requests/a.yaml", status: "added" }, { path: "requests/b.yml", status: "copied", previousPath: "requests/a.yaml" }]);
    expect(r.path).toBeNull();
    expect(r.problems.map((p) => p.code)).toEqual(["multiple-requests", "multiple-requests"]);
    expect(r.problems[0]!.message).toContain("requests/a.yaml, requests/b.yml");
  });

  it("allows deleting old requests alone, but not alongside a new one", () => {
    expect(selectRequest([{ path: "requests/old.yaml", status: "removed", sha: null }])).toEqual({ path: null, problems: [] });
    const r = selectRequest([{ path: "requests/old.yaml", status: "removed", sha: null }, { path: "requests/new.yaml", status: "added" }]);
    expect(r.path).toBeNull();
    expect(r.problems.map((p) => [p.code, p.file])).toEqual([["request-removed-with-new", "requests/old.yaml"]]);
  });
});
