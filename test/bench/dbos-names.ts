/** Names the DBOS peer's worker processes and the bench that feeds them agree on. */
export const QUEUE = "bench";
export const APP = "clutch-bench";
/** Pinned: DBOS dequeues a workflow only on executors of the version it was enqueued for. */
export const APP_VERSION = "bench";
export const ONE = "benchOne";
export const CHAIN = "benchChain";
