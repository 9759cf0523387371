/** The store's public surface: what the server, the CLI and the audit tooling use. */
export { openStore, storeOptionsFromEnv, type Store, type StoreOptions, type Backend } from "./db.js";
export { migrate, migrationStatus } from "./migrate.js";
export { createRun, cancelRun, getRun, listAttempts, type CreateRunInput, type CreatedRun, type RunStatus, type StepStatus, type AttemptRow } from "./runs.js";
export { runWorker, type RunWorkersOptions } from "./workers.js";
export { PgWorkQueue, MAX_INTERRUPTIONS, defaultWorkerId } from "./queue.js";
export { appendAudit, verifyAuditChain, listAuditEvents, auditHash, canonicalJson, type AuditEvent, type AuditRow, type ChainVerdict, type ChainProblem } from "./audit.js";
