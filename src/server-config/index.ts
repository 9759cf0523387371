export * from "./types.js";
export { loadServerConfig, parseServerConfig, ServerConfigError, type LoadServerConfigOptions } from "./load.js";
export { substituteEnvRefs } from "./env-refs.js";
