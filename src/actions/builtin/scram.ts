/**
 * A SCRAM-SHA-256 password verifier computed client-side, in the format Postgres
 * stores in pg_authid (RFC 5802/7677). Sending the verifier instead of the password
 * keeps the plaintext out of the server's statement log and pg_stat_activity.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

export const SCRAM_ITERATIONS = 4096;

export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  // Postgres applies SASLprep; for the ASCII passwords secret.generate makes it is the identity.
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Whether `password` matches a stored verifier. */
export function scramVerifierMatches(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!m) return false;
  return scramSha256Verifier(password, Buffer.from(m[2]!, "base64"), Number(m[1])) === verifier;
}
