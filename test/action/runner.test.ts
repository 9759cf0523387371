/** The workflow-command and output-file writers, against the runner's rules. */
import { describe, expect, it } from "vitest";
import { escapeData, escapeProperty, outputEntry, workflowCommand } from "../../action/src/runner.js";
import { parseOutputFile, workflowCommands } from "./runner-env.js";

describe("workflow commands", () => {
  it("escapes %, CR and LF in the message and also : and , in properties", () => {
    expect(escapeData("100% a\r\nb::c,d")).toBe("100%25 a%0D%0Ab::c,d");
    expect(escapeProperty("a:b,c%\n")).toBe("a%3Ab%2Cc%25%0A");
  });

  it("a hostile message and property make exactly one command line", () => {
    const line = workflowCommand("error", { file: "x,line=1::", line: 3, col: undefined }, "m\n::warning::second%0A");
    expect(line).toBe("::error file=x%2Cline=1%3A%3A,line=3::m%0A::warning::second%250A");
    expect(workflowCommands(`${line}\n`)).toHaveLength(1);
  });
});

describe("outputs", () => {
  it("writes JSON and multi-line values in heredoc form with a delimiter absent from the value", () => {
    const value = '{"a":"ghadelimiter_x"}\nsecond line\nEOF';
    const entry = outputEntry("verdict", value);
    const delim = /^verdict<<(.+)\n/.exec(entry)![1]!;
    expect(value).not.toContain(delim);
    expect(delim).toMatch(/^ghadelimiter_[0-9a-f]{32}$/);
    expect(parseOutputFile(entry + outputEntry("approved", "true"))).toEqual({ verdict: value, approved: "true" });
  });
});
