#!/usr/bin/env node
// `npm start`: the server, until SIGINT/SIGTERM; running steps are handed back on the way out.
import { startServer } from "./app-server.js";

const handle = await startServer({ env: process.env });
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    process.stderr.write(`received ${sig}, stopping\n`);
    void handle.close().then(() => process.exit(0));
  });
}
