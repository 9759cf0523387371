/** Public API of the policy core: pure functions over the facts snapshot. */
export {
  CODEOWNERS_LOCATIONS,
  CODEOWNERS_MAX_BYTES,
  compileCodeowners,
  findCodeownersPath,
  oversizeError,
  parseOwner,
  type CodeownersError,
  type CodeownersMatcher,
  type CodeownersRule,
  type Owner,
  type OwnerMatch,
} from "./codeowners.js";
export { compilePattern, type CompiledPattern } from "./pattern.js";
export { effectivePolicyConfig, loadPolicyConfig, mergeConfig, type PolicyConfig, type PolicyConfigInput, type ConfigResult } from "./config.js";
export { CONFIG_SCHEMA } from "./config-schema.js";
export { checkFacts, FACTS_SCHEMA } from "./facts-schema.js";
export type { Actor, BaseChange, BlobSide, ChangedFile, ChangeSnapshot, PolicyFacts, RequestRef, Review, ReviewedChange, ReviewState, WorkflowApprovalInfo } from "./facts.js";
export { activeFreezes, isFreezeActive } from "./freeze.js";
export { assessReviews, changeDifferences, coversChangeNow, isBotActor, latestReviews } from "./reviews.js";
export { evaluatePolicy, parseBreakGlassReason, type Blocker, type MissingApproval, type RequirementResult, type Verdict } from "./verdict.js";
export { decideRunAction, isRunAction, RUN_ACTIONS, teamsToCheck, type RunAction, type RunActionDecision, type RunActionFacts } from "./run-actions.js";
