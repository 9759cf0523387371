/** What the webhook handlers need from the server: the store and the actions a request may name. */
import type { ActionRegistry } from "../../actions/registry.js";
import type { Store } from "../../store/db.js";

export interface AppDeps {
  store: Store;
  registry: ActionRegistry;
}

/**
 * The server opens the store after the Probot middleware is built (the middleware
 * is mounted when the server starts), so handlers take their deps as a promise.
 */
export type AppDepsSource = AppDeps | (() => Promise<AppDeps>);

export async function resolveDeps(source: AppDepsSource): Promise<AppDeps> {
  return typeof source === "function" ? source() : source;
}
