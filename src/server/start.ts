#!/usr/bin/env node
// `npm start`: the server, until SIGINT/SIGTERM; running steps are handed back on the way out.
import { join } from "node:path";
import dotenv from "dotenv";
import { defaultRegistry } from "../actions/index.js";
import type { AppDeps } from "../index.js";
import { startServer } from "./app-server.js";
import { createProbotMiddleware, missingAppSettings } from "./probot.js";
import { createSetupFlow } from "./setup-flow.js";

// `.env` (written by the setup flow, or by hand) fills in what the environment does not set.
dotenv.config({ path: join(process.cwd(), ".env"), quiet: true });

// The store opens inside startServer; webhooks that arrive first wait for it.
let ready: (deps: AppDeps) => void = () => {};
const deps = new Promise<AppDeps>((resolve) => (ready = resolve));
const webhooks = await createProbotMiddleware({ env: process.env, deps: () => deps });
// With no app at all, the first page is GitHub's registration flow, as a Probot app offers it.
const setup = !webhooks && !process.env.APP_ID ? createSetupFlow({ env: process.env, cwd: process.cwd() }) : null;
if (!webhooks) {
  process.stderr.write(`webhooks disabled: set ${missingAppSettings(process.env).join(", ")}${setup ? ", or open this server's / to register a GitHub App" : ""}\n`);
}
const handle = await startServer({ env: process.env, ...(webhooks ? { webhooks } : setup ? { before: [setup] } : {}) });
ready({ store: handle.store, registry: defaultRegistry() });
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    process.stderr.write(`received ${sig}, stopping\n`);
    void handle.close().then(() => process.exit(0));
  });
}
