export * from "./keys.js";
export * from "./step-token.js";
export * from "./oidc.js";
export { createSigner } from "./signer.js";
