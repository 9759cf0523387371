export { createApiHandler, type ApiOptions } from "./router.js";
export { JWKS_PATH, jwksHandler } from "./jwks.js";
export { runStatusHandler, type RunLookup } from "./runs.js";
export { GITHUB_ACTIONS_CALLBACK_PATH, githubActionsCallbackHandler, type CallbackDelivery, type GitHubActionsCallback } from "./callbacks.js";
export { runCancelHandler, type RunCanceller, type CancelOutcome } from "./run-cancel.js";
