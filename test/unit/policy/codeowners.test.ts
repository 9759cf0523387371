import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { wildcardCodeownersNearLimit } from "../../support/hostile-codeowners.js";
import {
  CODEOWNERS_MAX_BYTES,
  compileCodeowners,
  findCodeownersPath,
  parseOwner,
} from "../../../src/policy/codeowners.js";

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/policy/${name}`, import.meta.url), "utf8");

const DOCS = "GitHub Docs, About code owners";

describe("CODEOWNERS patterns, one rule at a time", () => {
  // Each row: a single-line CODEOWNERS, paths it must own and paths it must not.
  const table: { source: string; pattern: string; owns: string[]; not: string[] }[] = [
    { source: `${DOCS}: "*" sets default owners for everything`, pattern: "*", owns: ["README.md", "a/b/c.txt", ".github/x"], not: [] },
    { source: `${DOCS}: "*.js" owns JS files anywhere`, pattern: "*.js", owns: ["app.js", "src/deep/app.js"], not: ["app.jsx", "app.js.map", "APP.JS"] },
    { source: `${DOCS}: "*.go" with an email owner`, pattern: "*.go", owns: ["main.go", "cmd/x/main.go"], not: ["main.golang"] },
    { source: `${DOCS}: "*.txt" owned by a team`, pattern: "*.txt", owns: ["a.txt", "notes/b.txt"], not: ["a.txt.bak"] },
    { source: `${DOCS}: "/build/logs/" owns the root build/logs directory and its subdirectories`, pattern: "/build/logs/", owns: ["build/logs/a.log", "build/logs/2026/11/a.log"], not: ["src/build/logs/a.log", "build/logs", "build/logsx/a"] },
    { source: `${DOCS}: "docs/*" owns docs/getting-started.md but not docs/build-app/troubleshooting.md`, pattern: "docs/*", owns: ["docs/getting-started.md"], not: ["docs/build-app/troubleshooting.md", "other/docs/getting-started.md"] },
    { source: `${DOCS}: "apps/" owns an apps directory anywhere in the repository`, pattern: "apps/", owns: ["apps/a.js", "x/y/apps/z/w.yaml"], not: ["apps", "myapps/a.js", "apps-old/a"] },
    { source: `${DOCS}: "/docs/" owns the root docs directory and its subdirectories`, pattern: "/docs/", owns: ["docs/a.md", "docs/a/b.md"], not: ["x/docs/a.md", "docs"] },
    { source: `${DOCS}: "/scripts/" requires @doctocat or @octocat`, pattern: "/scripts/", owns: ["scripts/deploy.sh"], not: ["tools/scripts/deploy.sh"] },
    { source: `${DOCS}: "**/logs" owns /build/logs, /scripts/logs and /deeply/nested/logs`, pattern: "**/logs", owns: ["build/logs/a", "scripts/logs/a", "deeply/nested/logs/a", "logs/a"], not: ["logsx/a", "build/mylogs/a"] },
    { source: `${DOCS}: paths are case sensitive`, pattern: "/Docs/", owns: ["Docs/a.md"], not: ["docs/a.md", "DOCS/a.md"] },
    { source: "gitignore (git-scm.com/docs/gitignore): a pattern without slash matches files too", pattern: "Makefile", owns: ["Makefile", "sub/Makefile"], not: ["Makefile.am"] },
    { source: "gitignore: a middle slash anchors the pattern", pattern: "requests/prod", owns: ["requests/prod/a.yaml"], not: ["x/requests/prod/a.yaml"] },
    { source: "gitignore: trailing /** matches everything inside", pattern: "abc/**", owns: ["abc/x", "abc/x/y"], not: ["abc", "x/abc/y"] },
    { source: "gitignore: a/**/b matches zero or more directories", pattern: "a/**/b", owns: ["a/b", "a/x/b", "a/x/y/b", "a/x/b/c"], not: ["a/xb", "x/a/b"] },
    { source: "gitignore: ? matches one character other than /", pattern: "/v?.yaml", owns: ["v1.yaml"], not: ["v10.yaml", "x/v1.yaml"] },
    { source: "gitignore: * does not cross /", pattern: "/requests/*/prod.yaml", owns: ["requests/a/prod.yaml"], not: ["requests/a/b/prod.yaml"] },
    { source: "gitignore: a trailing slash on a wildcard pattern matches directories only", pattern: "*.d/", owns: ["etc/conf.d/a", "conf.d/x/y"], not: ["etc/conf.d", "conf.d"] },
    { source: "gitignore: a backslash escapes a space", pattern: "/my\\ dir/", owns: ["my dir/a"], not: ["my/a"] },
  ];
  for (const row of table) {
    it(`${row.source} [${row.pattern}]`, () => {
      const m = compileCodeowners(`${row.pattern} @owner\n`);
      expect(m.errors).toEqual([]);
      for (const p of row.owns) expect({ p, owners: m.match(p).owners }).toEqual({ p, owners: ["@owner"] });
      for (const p of row.not) expect({ p, line: m.match(p).line }).toEqual({ p, line: null });
    });
  }
});

describe("GitHub's example CODEOWNERS file as a whole", () => {
  // Source: GitHub Docs, About code owners, "Example of a CODEOWNERS file".
  // All examples in one file: the last matching line wins, so later lines shadow earlier ones.
  const m = compileCodeowners(fixture("github-docs-example.CODEOWNERS"));
  const table: { path: string; line: number; owners: string[] }[] = [
    { path: "README.md", line: 5, owners: ["@global-owner1", "@global-owner2"] },
    { path: "src/index.js", line: 6, owners: ["@js-owner"] },
    { path: "main.go", line: 7, owners: ["docs@example.com"] },
    { path: "notes/todo.txt", line: 8, owners: ["@octo-org/octocats"] },
    // `**/logs` (line 14) comes after `/build/logs/` (line 9) and also matches.
    { path: "build/logs/app.log", line: 14, owners: ["@octocat"] },
    { path: "deeply/nested/logs/x.log", line: 14, owners: ["@octocat"] },
    { path: "docs/getting-started.md", line: 12, owners: ["@doctocat"] },
    { path: "docs/build-app/troubleshooting.md", line: 12, owners: ["@doctocat"] },
    { path: "web/apps/main.rb", line: 11, owners: ["@octocat"] },
    { path: "scripts/deploy.sh", line: 13, owners: ["@doctocat", "@octocat"] },
    { path: "apps/main.rb", line: 15, owners: ["@octocat"] },
    // A pattern with no owners un-owns: the line decides, and nobody owns the path.
    { path: "apps/github/main.rb", line: 16, owners: [] },
  ];
  it("has no errors; the inline comment is not an owner", () => {
    expect(m.errors).toEqual([]);
    expect(m.rules.find((r) => r.line === 6)!.owners.map((o) => o.text)).toEqual(["@js-owner"]);
  });
  for (const row of table) {
    it(`${row.path} → line ${row.line}`, () => {
      const got = m.match(row.path);
      expect({ line: got.line, owners: got.owners }).toEqual({ line: row.line, owners: row.owners });
    });
  }
  it(`${DOCS}: a subdirectory with its own owner`, () => {
    const sub = compileCodeowners(fixture("github-docs-subdir-owner.CODEOWNERS"));
    expect(sub.match("apps/web/a.js")).toMatchObject({ owners: ["@octocat"], line: 2 });
    expect(sub.match("apps/github/a.js")).toMatchObject({ owners: ["@doctocat"], line: 3 });
  });
});

describe("CODEOWNERS syntax errors", () => {
  // Source: GitHub Docs, About code owners, "Syntax exceptions": no escaped #, no !, no [ ].
  const m = compileCodeowners(fixture("syntax-errors.CODEOWNERS"));
  it("reports each bad line with its number and column and keeps the good ones", () => {
    expect(m.errors.map((e) => [e.line, e.column])).toEqual([
      [3, 1],
      [4, 1],
      [5, 1],
      [6, 15],
      [7, 18],
    ]);
    expect(m.errors[0]!.message).toMatch(/escaped "#"/);
    expect(m.errors[1]!.message).toMatch(/negation/);
    expect(m.errors[2]!.message).toMatch(/character ranges/);
    expect(m.errors[3]!.message).toMatch(/invalid owner "not-an-owner"/);
    expect(m.errors[4]!.message).toMatch(/invalid owner "@-bad-"/);
    expect(m.rules.map((r) => r.line)).toEqual([2]);
  });
  it("each error carries the fields of GitHub's CODEOWNERS error view (line, column, kind, source, suggestion)", () => {
    expect(m.errors[1]).toEqual({
      line: 4,
      column: 1,
      kind: "Invalid pattern",
      source: "!/requests/ @alice",
      message: 'negation ("!") is not supported in CODEOWNERS',
      suggestion: "to exempt paths, add a later line with the pattern and no owners (or other owners): the last matching line wins",
    });
    expect(m.errors[3]).toEqual({
      line: 6,
      column: 15,
      kind: "Invalid owner",
      source: "/prod/ @alice not-an-owner @bob",
      message: 'invalid owner "not-an-owner": expected @user, @org/team or an email address',
      suggestion: 'did you mean "@not-an-owner"?',
    });
    expect(m.errors.map((e) => e.kind)).toEqual(["Invalid pattern", "Invalid pattern", "Invalid pattern", "Invalid owner", "Invalid owner"]);
  });
  it("GitHub's example error: the pattern / never matches anything, with the suggestion to use *", () => {
    // Source: GitHub REST API, "List CODEOWNERS errors" (its example suggestion).
    const slash = compileCodeowners("# root\n/ @octocat\n");
    expect(slash.errors).toEqual([
      { line: 2, column: 1, kind: "Invalid pattern", source: "/ @octocat", message: 'pattern "/" matches nothing', suggestion: "the pattern `/` never matches anything; did you mean `*`?" },
    ]);
  });
  it("drops a line with an unparseable owner entirely rather than keeping part of it", () => {
    expect(m.match("prod/x.yaml").line).toBeNull();
  });
  it(`${DOCS}: files of 3 MB or more are refused`, () => {
    const big = "/a/ @alice\n" + "#".repeat(CODEOWNERS_MAX_BYTES);
    const refused = compileCodeowners(big);
    expect(refused.rules).toEqual([]);
    expect(refused.errors).toEqual([
      {
        line: 1,
        column: 1,
        kind: "File too large",
        source: "",
        message: `CODEOWNERS is ${CODEOWNERS_MAX_BYTES + 11} bytes; GitHub ignores files of 3 MB or more, so no line of it applies`,
        suggestion: "consolidate entries with wildcard patterns",
      },
    ]);
    expect(refused.match("a/x").line).toBeNull();
  });
  it(`${DOCS}: "must be under 3 MB": one byte under is loaded, exactly 3 MB is not`, () => {
    const head = "/a/ @alice\n";
    const under = compileCodeowners(head + "#".repeat(CODEOWNERS_MAX_BYTES - head.length - 1));
    expect(under.errors).toEqual([]);
    expect(under.match("a/x").owners).toEqual(["@alice"]);
    const at = compileCodeowners(head + "#".repeat(CODEOWNERS_MAX_BYTES - head.length));
    expect(at.errors.map((e) => e.kind)).toEqual(["File too large"]);
  });
  it("a file just under the limit, all wildcard lines, compiles and decides by its last matching line", () => {
    const lines = wildcardCodeownersNearLimit();
    const m = compileCodeowners(lines.join("\n"));
    expect(m.errors).toEqual([]);
    expect(m.rules.length).toBe(lines.length);
    const last = lines.length - 1;
    expect(m.match(`a${last}/x/b/cdef/z`)).toMatchObject({ line: lines.length, owners: [`@o${last % 100}`] });
    expect(m.match("src/index.ts").line).toBeNull();
  });
  it("the limit counts bytes, not characters", () => {
    // 1.5 million two-byte characters: half the limit in length, all of it in bytes.
    const refused = compileCodeowners("/a/ @alice\n#" + "é".repeat(CODEOWNERS_MAX_BYTES / 2));
    expect(refused.errors.map((e) => e.kind)).toEqual(["File too large"]);
  });
  it("a byte-order mark at the start is not part of the first pattern", () => {
    const bom = compileCodeowners("\uFEFF* @alice\n");
    expect(bom.errors).toEqual([]);
    expect(bom.match("README.md").owners).toEqual(["@alice"]);
  });
  it("a no-break space between pattern and owners is an error, not a silent un-owning line", () => {
    const nbsp = compileCodeowners("* @platform\n/requests/\u00a0@dba\n");
    expect(nbsp.errors).toEqual([
      {
        line: 2,
        column: 1,
        kind: "Invalid pattern",
        source: "/requests/\u00a0@dba",
        message: "pattern contains the invisible character U+00A0",
        suggestion: "separate the pattern and its owners with plain spaces or tabs",
      },
    ]);
    expect(nbsp.match("requests/a.yaml")).toMatchObject({ owners: ["@platform"], line: 1 });
  });
  it("accepts CRLF line endings", () => {
    const crlf = compileCodeowners("# c\r\n/a/ @alice\r\n/b/ @bob\r\n");
    expect(crlf.match("b/x")).toMatchObject({ owners: ["@bob"], line: 3 });
  });
});

describe("owners and location", () => {
  it(`${DOCS}: @user, @org/team and email owners`, () => {
    expect(parseOwner("@octocat")).toEqual({ kind: "user", text: "@octocat" });
    expect(parseOwner("@octo-org/octocats")).toEqual({ kind: "team", text: "@octo-org/octocats" });
    expect(parseOwner("docs@example.com")).toEqual({ kind: "email", text: "docs@example.com" });
    for (const bad of ["octocat", "@", "@a--b", "@org/", "@org/team/x", "x@y"]) expect(parseOwner(bad)).toBeNull();
    // Longer than any real owner; also keeps the e-mail check from backtracking on a hostile token.
    expect(parseOwner("a@" + ".".repeat(100_000) + "@")).toBeNull();
    expect(parseOwner(`${"a".repeat(250)}@example.com`)).toBeNull();
  });
  it(`${DOCS}: .github/ first, then the root, then docs/`, () => {
    const has = (files: string[]) => (p: string) => files.includes(p);
    expect(findCodeownersPath(has(["CODEOWNERS", "docs/CODEOWNERS", ".github/CODEOWNERS"]))).toBe(".github/CODEOWNERS");
    expect(findCodeownersPath(has(["docs/CODEOWNERS", "CODEOWNERS"]))).toBe("CODEOWNERS");
    expect(findCodeownersPath(has(["docs/CODEOWNERS"]))).toBe("docs/CODEOWNERS");
    expect(findCodeownersPath(has(["codeowners", ".gitlab/CODEOWNERS"]))).toBeNull();
  });
  it(`${DOCS}: owners of one pattern must share a line; on two lines only the last line's owners apply`, () => {
    const m = compileCodeowners("*.js @alice\n*.js @bob\n");
    expect(m.match("src/app.js")).toMatchObject({ owners: ["@bob"], line: 2 });
  });
  it(`${DOCS}: an inline comment after the owners is not an owner, whatever it says`, () => {
    const m = compileCodeowners("*.js    @js-owner #@mallory docs@evil.test\n");
    expect(m.errors).toEqual([]);
    expect(m.match("a.js").owners).toEqual(["@js-owner"]);
  });
  it("last matching line wins even when an earlier line is more specific", () => {
    const m = compileCodeowners("/requests/prod/db.yaml @dba\n*.yaml @yaml\n");
    expect(m.match("requests/prod/db.yaml")).toMatchObject({ owners: ["@yaml"], line: 2 });
  });
});
