/** The pure engine: state machines, DAG, retry, rollback planning, the worker loop. */
export * from "./states.js";
export { buildGraph, GraphError, type RunGraph, type StepNode } from "./graph.js";
export { decideRetry, backoffDelay, type RetryDecision } from "./retry.js";
export { buildScope, resolveInput, outputsNeeded, type Outputs } from "./scope.js";
export { plainContextFactory, type StepContextFactory, type SecretsSeen, type LogLine } from "./context.js";
export { Worker, type WorkerOptions } from "./worker.js";
export { requestFields } from "./request-fields.js";
export type { WorkQueue, ClaimedStep, StepResult, RunDefinition, RunIdentity, CompleteOutcome, Phase } from "./queue.js";
