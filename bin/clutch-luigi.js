#!/usr/bin/env node
// The installed command runs the compiled CLI (built by `npm ci` through `prepare`).
import { main } from "../dist/cli/main.js";

const controller = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => controller.abort(new Error(`received ${sig}`)));
}
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
