/** The keys every process on a shared database must share, made fresh for a test. */
import { randomBytes } from "node:crypto";
import { generateSigningJwk } from "../../src/identity/keys.js";

export async function sharedKeysEnv(): Promise<{ CLUTCH_LUIGI_SIGNING_KEY: string; CLUTCH_LUIGI_ENCRYPTION_KEY: string }> {
  return {
    CLUTCH_LUIGI_SIGNING_KEY: JSON.stringify({ keys: [await generateSigningJwk()] }),
    CLUTCH_LUIGI_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  };
}
