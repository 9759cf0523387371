import { describe, expect, it } from "vitest";
import { namedTeams } from "../../../src/github/team-refs.js";
import { read } from "./gathered.js";

describe("namedTeams", () => {
  it("collects teams from CODEOWNERS, every owner list of the config, and workflow approvals, once each", () => {
    const teams = namedTeams({
      codeowners: read("ops-repo/.github/CODEOWNERS"),
      config: {
        paths: [{ pattern: "/requests/prod/", from: ["@Acme/SRE", "@carol"] }],
        workflows: { deploy: { from: ["@acme/release"] } },
        vetoTeams: ["@acme/security"],
        controlPlane: { owners: ["@acme/platform"] },
      },
      workflowApprovals: [{ minApprovals: 2, from: ["@acme/dba", "@other-org/auditors"] }],
    });
    expect(teams).toEqual(["acme/dba", "acme/platform", "acme/release", "acme/security", "acme/sre", "other-org/auditors"]);
  });

  it("tolerates malformed config and ignores users and e-mails", () => {
    expect(namedTeams({ config: { paths: "nope", workflows: [1], vetoTeams: [3, "@bob", "x@y.z"], controlPlane: null }, workflowApprovals: [null, "x"] })).toEqual([]);
    expect(namedTeams({ codeowners: null, config: undefined })).toEqual([]);
  });
});
