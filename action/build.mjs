// Bundles action/src/main.ts with everything it imports into action/dist/index.js.
// Deterministic: no sourcemap, no timestamps, fixed options, so a fresh build of
// the same sources is byte-identical to the committed bundle (a test checks it).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export const options = {
  absWorkingDir: root,
  entryPoints: ["action/src/main.ts"],
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  // CommonJS dependencies call require() for Node's built-ins; ESM has no require of its own.
  banner: { js: 'import{createRequire as __clRequire}from"node:module";const require=__clRequire(import.meta.url);' },
};

const outfile = process.argv[2] ?? "action/dist/index.js";
await build({ ...options, outfile });
