import { describe, expect, it } from "vitest";
import { decideRunAction, teamsToCheck, type RunAction, type RunActionFacts } from "../../../src/policy/run-actions.js";

const CODEOWNERS = `# requests: SRE; databases: the DBAs and one person
/requests/ @acme/sre
/requests/databases/ @acme/dba @dora
/requests/unowned/
`;

function facts(over: Partial<RunActionFacts> = {}): RunActionFacts {
  return {
    clicker: { login: "sam", type: "User" },
    requestPath: "requests/2026/restart.yaml",
    codeowners: CODEOWNERS,
    config: { operators: ["@acme/oncall", "@olga"], machineUsers: ["ops-agent"] },
    clickerTeams: [],
    ...over,
  };
}

describe("decideRunAction", () => {
  it.each<[string, Partial<RunActionFacts>, RunAction, ReturnType<typeof decideRunAction>]>([
    ["a member of the owning team", { clickerTeams: ["acme/sre"] }, "retry", { allowed: true, as: "codeowner", via: "@acme/sre" }],
    ["team keys in any case", { clickerTeams: ["ACME/SRE"] }, "rollback", { allowed: true, as: "codeowner", via: "@acme/sre" }],
    ["a user owner, case-insensitively", { clicker: { login: "Dora", type: "User" }, requestPath: "requests/databases/x.yaml" }, "cancel", { allowed: true, as: "codeowner", via: "@dora" }],
    ["the last matching line decides: SRE does not own database requests", { clickerTeams: ["acme/sre"], requestPath: "requests/databases/x.yaml" }, "retry", expect.objectContaining({ allowed: false, code: "not-authorized" })],
    ["an operator team member", { clicker: { login: "otto", type: "User" }, clickerTeams: ["acme/oncall"] }, "retry", { allowed: true, as: "operator", via: "@acme/oncall" }],
    ["an operator user", { clicker: { login: "olga", type: "User" } }, "rollback", { allowed: true, as: "operator", via: "@olga" }],
    ["an operator on an unowned path", { clicker: { login: "olga", type: "User" }, requestPath: "requests/unowned/x.yaml" }, "cancel", { allowed: true, as: "operator", via: "@olga" }],
    ["nobody else", { clicker: { login: "mallory", type: "User" }, clickerTeams: ["acme/other"] }, "retry", expect.objectContaining({ allowed: false, code: "not-authorized", reason: expect.stringContaining("mallory is neither a code owner of requests/2026/restart.yaml") })],
    ["a Bot account, even in the owning team", { clicker: { login: "deployer", type: "Bot" }, clickerTeams: ["acme/sre"] }, "retry", expect.objectContaining({ allowed: false, code: "bot" })],
    ["a [bot] login typed User", { clicker: { login: "renovate[bot]", type: "User" }, clickerTeams: ["acme/sre"] }, "cancel", expect.objectContaining({ allowed: false, code: "bot" })],
    ["a machine user who is an operator", { clicker: { login: "ops-agent", type: "User" }, config: { operators: ["@ops-agent"], machineUsers: ["ops-agent"] } }, "retry", expect.objectContaining({ allowed: false, code: "bot" })],
    ["an Organization account, even one named as an owner", { clicker: { login: "dora", type: "Organization" }, requestPath: "requests/databases/x.yaml" }, "retry", expect.objectContaining({ allowed: false, code: "not-a-user" })],
    ["an account of unknown type", { clicker: { login: "olga", type: "Unknown" } }, "cancel", expect.objectContaining({ allowed: false, code: "not-a-user" })],
    ["no CODEOWNERS: operators only", { codeowners: null, clickerTeams: ["acme/sre"] }, "retry", expect.objectContaining({ allowed: false, code: "not-authorized" })],
    ["no policy file: code owners only", { config: undefined, clickerTeams: ["acme/sre"] }, "retry", { allowed: true, as: "codeowner", via: "@acme/sre" }],
    ["an invalid policy file refuses everyone", { config: { operators: "@acme/oncall" }, clickerTeams: ["acme/sre"] }, "retry", expect.objectContaining({ allowed: false, code: "config-invalid" })],
    ["an unreadable policy file refuses everyone", { configUnreadable: "not YAML", clickerTeams: ["acme/sre"] }, "retry", expect.objectContaining({ allowed: false, code: "config-invalid" })],
    ["an e-mail owner grants nothing by itself", { codeowners: "/requests/ sre@acme.example\n", clicker: { login: "sre", type: "User" } }, "retry", expect.objectContaining({ allowed: false, code: "not-authorized" })],
    ["a team name is not a login", { clicker: { login: "acme", type: "User" } }, "retry", expect.objectContaining({ allowed: false })],
  ])("%s", (_name, over, action, expected) => {
    expect(decideRunAction(action, facts(over))).toEqual(expected);
  });

  it("names the action in a refusal", () => {
    expect(decideRunAction("rollback", facts({ clicker: { login: "x[bot]", type: "Bot" } }))).toMatchObject({ reason: expect.stringContaining("bots never roll back runs") });
  });
});

describe("teamsToCheck", () => {
  it("is the request file's owning teams and the operator teams", () => {
    expect(teamsToCheck(facts({ requestPath: "requests/databases/x.yaml" }))).toEqual(["acme/dba", "acme/oncall"]);
    expect(teamsToCheck(facts({ config: { operators: "bad" } }))).toEqual(["acme/sre"]);
  });
});
