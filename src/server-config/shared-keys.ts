/**
 * With a shared database, every process (app replicas, workers on other machines) must
 * sign step tokens with keys downstream services trust and open the secret outputs
 * other processes sealed. A key generated per process breaks both, silently and later:
 * tokens one replica signs fail verification against another's JWKS, and a worker
 * cannot read a secret output sealed by another. So such a process refuses to start.
 */
import type { ServerConfig } from "./types.js";

export class SharedKeysMissingError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `DATABASE_URL is set, so this process shares its database with others, but ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not configured; ` +
        "every process must use the same keys (a key generated here would be this process's alone). See docs/deploy.md.",
    );
    this.name = "SharedKeysMissingError";
  }
}

/** Throws unless both keys come from configuration that every process can share. */
export function requireSharedKeys(env: NodeJS.ProcessEnv, config: Pick<ServerConfig, "signing">): void {
  if (!env.DATABASE_URL) return;
  const missing: string[] = [];
  if (!env.CLUTCH_LUIGI_SIGNING_KEY && !config.signing.keyFile) missing.push("the signing key (CLUTCH_LUIGI_SIGNING_KEY, or signing.keyFile in the server configuration)");
  if (!env.CLUTCH_LUIGI_ENCRYPTION_KEY) missing.push("the encryption key (CLUTCH_LUIGI_ENCRYPTION_KEY)");
  if (missing.length > 0) throw new SharedKeysMissingError(missing);
}
