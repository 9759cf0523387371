#!/usr/bin/env node
// `npm start`: the server, until SIGINT/SIGTERM; running steps are handed back on the way out.
import { defaultRegistry } from "../actions/index.js";
import type { AppDeps } from "../index.js";
import { startServer } from "./app-server.js";
import { createProbotMiddleware, missingAppSettings } from "./probot.js";

// The store opens inside startServer; webhooks that arrive first wait for it.
let ready: (deps: AppDeps) => void = () => {};
const deps = new Promise<AppDeps>((resolve) => (ready = resolve));
const webhooks = await createProbotMiddleware({ env: process.env, deps: () => deps });
if (!webhooks) process.stderr.write(`webhooks disabled: set ${missingAppSettings(process.env).join(", ")}\n`);
const handle = await startServer({ env: process.env, ...(webhooks ? { before: [webhooks] } : {}) });
ready({ store: handle.store, registry: defaultRegistry() });
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    process.stderr.write(`received ${sig}, stopping\n`);
    void handle.close().then(() => process.exit(0));
  });
}
