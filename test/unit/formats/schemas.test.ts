/**
 * The JSON Schemas as editors use them: each catalog file names its schema in a
 * `# yaml-language-server: $schema=…` modeline that resolves, from the file's own folder,
 * to the schema shipped in the package; a stock validator (ajv in strict mode, no
 * project code) accepts the schemas and the catalog; `clutch-luigi schema` prints them.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const SCHEMAS = path.join(ROOT, "src/formats/schemas");
const MODELINE = /^# yaml-language-server: \$schema=(\S+)$/;

const catalogFiles = (dir: string): string[] =>
  readdirSync(path.join(ROOT, dir)).filter((n) => n.endsWith(".yaml")).map((n) => path.join(ROOT, dir, n));
const FILES = [...catalogFiles("workflows"), ...catalogFiles("workflows/examples")];

describe("JSON Schemas for editors", () => {
  it("are shipped in the package", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { files: string[] };
    expect(pkg.files).toContain("src/formats/schemas");
  });

  it.each(FILES.map((f) => [path.relative(ROOT, f), f]))("%s names its schema by a path that resolves", (_name, file) => {
    const text = readFileSync(file, "utf8");
    const target = MODELINE.exec(text.split("\n")[0]!)?.[1];
    expect(target, "first line is a yaml-language-server modeline").toBeDefined();
    const kind = (parse(text) as { kind: string }).kind.toLowerCase();
    expect(path.resolve(path.dirname(file), target!)).toBe(path.join(SCHEMAS, `${kind}.schema.json`));
  });

  it("compile under ajv's strict mode and accept the catalog as an editor would", () => {
    const ajv = new Ajv({ strict: true, allErrors: true });
    const validators = {
      Workflow: ajv.compile(JSON.parse(readFileSync(path.join(SCHEMAS, "workflow.schema.json"), "utf8"))),
      Request: ajv.compile(JSON.parse(readFileSync(path.join(SCHEMAS, "request.schema.json"), "utf8"))),
    };
    for (const file of FILES) {
      const doc = parse(readFileSync(file, "utf8")) as { kind: "Workflow" | "Request" };
      const validate = validators[doc.kind];
      expect(validate(doc), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    // And flag what validation flags, e.g. a misspelt key.
    expect(validators.Request({ apiVersion: "clutch-luigi/v1", kind: "Request", workflow: "x", reason: "why", parmas: {} })).toBe(false);
  });

  it("are what `clutch-luigi schema` prints", async () => {
    for (const which of ["workflow", "request"]) {
      let out = "";
      const code = await main(["schema", which], { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true }, cwd: ROOT, env: {} });
      expect(code).toBe(0);
      expect(JSON.parse(out)).toEqual(JSON.parse(readFileSync(path.join(SCHEMAS, `${which}.schema.json`), "utf8")));
    }
  });
});
