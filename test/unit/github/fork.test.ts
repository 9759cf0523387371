/**
 * Whether a pull request comes from a fork, from the API's pull request: a
 * head repository that is another repository (by id or by name), or none at
 * all (a deleted fork), is a fork; the same repository in another case is not.
 */
import { describe, expect, it } from "vitest";
import { forkOf } from "../../../src/github/facts.js";

const base = { ref: "main", sha: "a".repeat(40), repo: { id: 1, full_name: "acme/ops", name: "ops", owner: { login: "acme" } } };
const pull = (repo: { id?: number; full_name?: string } | null) => ({ head: { sha: "b".repeat(40), repo }, base });

describe("forkOf", () => {
  it("is null for a branch of the repository itself, whatever the case of its name", () => {
    expect(forkOf(pull({ id: 1, full_name: "acme/ops" }))).toBeNull();
    expect(forkOf(pull({ id: 1, full_name: "ACME/Ops" }))).toBeNull();
  });
  it("names another repository", () => {
    expect(forkOf(pull({ id: 2, full_name: "mallory/ops" }))).toBe("mallory/ops");
  });
  it("is a fork when the ids differ even if the names agree (a lookalike cannot pass by name)", () => {
    expect(forkOf(pull({ id: 2, full_name: "acme/ops" }))).toBe("acme/ops");
  });
  it("is a fork when the head repository is gone", () => {
    expect(forkOf(pull(null))).toBe("a deleted fork");
  });
});
