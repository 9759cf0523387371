#!/usr/bin/env node
/**
 * `npm run lint:regex [FILES…]`: rejects regular expressions whose matching time can
 * grow faster than linearly with the input (eslint-plugin-regexp's
 * `no-super-linear-backtracking` and `no-super-linear-move`), and `RegExp(…)` built
 * from anything but a string literal, unless the line above says
 * `// lint-regex: allow — <why the input cannot be hostile>`.
 *
 * TypeScript 7 has no JavaScript API, so the TypeScript parser for ESLint cannot run:
 * each file is stripped of types by esbuild and the JavaScript is linted, and findings
 * are mapped back to the TypeScript through esbuild's source map.
 * Default: every `.ts` file under `src/`. Exit 1 on any finding.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { transformSync } from "esbuild";
import { Linter } from "eslint";
import regexp from "eslint-plugin-regexp";

const ALLOW = /\/\/\s*lint-regex:\s*allow\b/;

/** `RegExp(x)` / `new RegExp(x)` whose pattern is not a literal: the lint cannot see what it will run. */
const dynamicRegExp = {
  meta: { type: "problem", schema: [] },
  create(context) {
    const check = (node) => {
      if (node.callee.type !== "Identifier" || node.callee.name !== "RegExp") return;
      const arg = node.arguments[0];
      const literal = arg && ((arg.type === "Literal" && typeof arg.value === "string") || (arg.type === "TemplateLiteral" && arg.expressions.length === 0));
      if (!literal) context.report({ node, message: "RegExp built from a non-literal pattern: the regex lint cannot check it (add `// lint-regex: allow — why` above if its input cannot be hostile)" });
    };
    return { NewExpression: check, CallExpression: check };
  },
};

const config = [
  {
    files: ["**/*.js"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module" },
    plugins: { regexp, local: { rules: { "dynamic-regexp": dynamicRegExp } } },
    rules: {
      "regexp/no-super-linear-backtracking": ["error", { report: "certain" }],
      "regexp/no-super-linear-move": ["error", { report: "certain", ignoreSticky: true, ignorePartial: false }],
      "local/dynamic-regexp": "error",
    },
  },
];

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decodes a v3 source map's `mappings` into, per generated line, [genCol, srcLine, srcCol] segments. */
function decodeMappings(mappings) {
  const lines = [];
  let srcLine = 0;
  let srcCol = 0;
  let srcIndex = 0;
  for (const lineText of mappings.split(";")) {
    const segs = [];
    let genCol = 0;
    for (const seg of lineText.split(",")) {
      if (seg === "") continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += values[0];
      if (values.length >= 4) {
        srcIndex += values[1];
        srcLine += values[2];
        srcCol += values[3];
        segs.push([genCol, srcLine, srcCol]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

/** 1-based position in the TypeScript of a 1-based line / 0-based column in the generated JavaScript. */
function original(map, line, column) {
  const segs = map[line - 1] ?? [];
  let best = segs[0];
  for (const s of segs) if (s[0] <= column) best = s;
  return best ? { line: best[1] + 1, col: best[2] + 1 } : { line, col: column + 1 };
}

export function lintSource(file, ts) {
  const out = transformSync(ts, { loader: "ts", format: "esm", sourcemap: "external", sourcefile: file, target: "es2022" });
  const map = decodeMappings(JSON.parse(out.map).mappings);
  const tsLines = ts.split("\n");
  const findings = [];
  for (const m of new Linter({ configType: "flat" }).verify(out.code, config, { filename: "file.js" })) {
    const at = m.line ? original(map, m.line, m.column - 1) : { line: 1, col: 1 };
    if (m.ruleId === "local/dynamic-regexp" && ALLOW.test(tsLines[at.line - 2] ?? "")) continue;
    findings.push({ file, line: at.line, col: at.col, rule: m.ruleId ?? "parse", message: m.message });
  }
  return findings;
}

function tsFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(full));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const files = (args.length ? args : ["src", "action/src"]).flatMap((a) => (statSync(a).isDirectory() ? tsFiles(a) : [a])).sort();
  const findings = files.flatMap((f) => lintSource(path.relative(process.cwd(), f) || f, readFileSync(f, "utf8")));
  for (const f of findings) console.log(`${f.file}:${f.line}:${f.col}: ${f.message} (${f.rule})`);
  console.log(`lint:regex: ${files.length} file${files.length === 1 ? "" : "s"}, ${findings.length} finding${findings.length === 1 ? "" : "s"}`);
  process.exit(findings.length > 0 ? 1 : 0);
}
