/**
 * GitHub's description writes `nullable: true` beside `anyOf`/`oneOf`/`allOf`
 * with no `type` (the `commit` schema's author, for one). ajv refuses to
 * compile that ("nullable cannot be used without type"), and the fake then
 * never answers. Rewriting each such node in place as `anyOf: [node, null]`
 * keeps its meaning. Must run before the first validator that reaches one is
 * compiled; ajv resolves `$ref`s into the same document object lazily.
 */
type Json = Record<string, unknown>;

export function normalizeNullable(doc: Json): number {
  const seen = new Set<object>();
  let changed = 0;
  const walk = (node: unknown): void => {
    if (!node || typeof node !== "object" || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const v of node) walk(v);
      return;
    }
    const n = node as Json;
    for (const v of Object.values(n)) walk(v);
    if (n.nullable === true && n.type === undefined) {
      const { nullable: _nullable, ...rest } = n;
      for (const k of Object.keys(n)) delete n[k];
      n.anyOf = [rest, { type: "null" }];
      changed++;
    }
    // ajv checks `enum` apart from `nullable`, so a nullable enum (a check run's
    // `conclusion` while it is in progress) must list null itself.
    if (n.nullable === true && Array.isArray(n.enum) && !n.enum.includes(null)) {
      n.enum = [...(n.enum as unknown[]), null];
      changed++;
    }
  };
  walk(doc.components);
  walk(doc.paths);
  return changed;
}
