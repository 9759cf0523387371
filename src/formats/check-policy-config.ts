/**
 * `.github/clutch-luigi.yml` checked like the other files a person writes: against its
 * JSON Schema with every problem at its line and column (a misspelt key with a
 * suggestion), then the rules the schema cannot say (a time zone that exists, a
 * CODEOWNERS pattern that compiles, a freeze window that ends after it starts).
 */
import { CONFIG_SCHEMA } from "../policy/config-schema.js";
import { loadPolicyConfig } from "../policy/config.js";
import type { Problem } from "./problems.js";
import { checkAgainstSchema } from "./schema-check.js";
import type { PathSegment, SourceDoc } from "./source.js";

/** The repository policy file, wherever the ops repository keeps it. */
export function isPolicyConfigPath(file: string): boolean {
  return /(^|[\\/])clutch-luigi\.ya?ml$/.test(file);
}

/** `freeze.0.timeZone: unknown …` → the path `["freeze", 0, "timeZone"]`, for the problem's position. */
function pathOf(message: string): PathSegment[] {
  const m = /^([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*)(?=[:\s])/.exec(message);
  if (!m) return [];
  return m[1]!.split(".").map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));
}

export function checkPolicyConfig(doc: SourceDoc): Problem[] {
  const schema = checkAgainstSchema(CONFIG_SCHEMA, doc.value).map((i) => doc.problem(i.path, i.message, i.which));
  if (schema.length > 0) return schema;
  const loaded = loadPolicyConfig(doc.value);
  if (loaded.ok) return [];
  return loaded.errors.map((e) => {
    const path = pathOf(e);
    try {
      return doc.problem(path, e);
    } catch {
      return doc.problem([], e);
    }
  });
}
