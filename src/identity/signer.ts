import type { ServerConfig } from "../server-config/types.js";
import { loadKeyRing } from "./keys.js";
import { StepTokenSigner } from "./step-token.js";

/** The step-token signer for a server configuration (keys from file, env, or the data dir). */
export async function createSigner(config: ServerConfig, env: Record<string, string | undefined> = process.env): Promise<StepTokenSigner> {
  const ring = await loadKeyRing({
    keyFile: config.signing.keyFile,
    env,
    dataDir: config.dataDir,
    algorithm: config.signing.algorithm,
  });
  return new StepTokenSigner(ring, { issuer: config.signing.issuer });
}
