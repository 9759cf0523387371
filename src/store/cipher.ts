/**
 * Secret step outputs at rest: AES-256-GCM with a random nonce per value. The key
 * comes from CLUTCH_LUIGI_ENCRYPTION_KEY, or is generated once into the data folder
 * for the embedded database; with neither, secret outputs are simply not stored.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { makeDataDir } from "../server-config/data-dir.js";
import { join } from "node:path";

export interface OutputCipher {
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
}

const VERSION = "v1";

export function parseKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== 32) throw new Error("CLUTCH_LUIGI_ENCRYPTION_KEY must be 32 bytes, as 64 hex digits or base64");
  return key;
}

export function createCipher(key: Buffer): OutputCipher {
  if (key.length !== 32) throw new Error("an AES-256-GCM key is 32 bytes");
  return {
    encrypt(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", key, iv);
      const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
      return [VERSION, iv.toString("base64"), c.getAuthTag().toString("base64"), body.toString("base64")].join(".");
    },
    decrypt(sealed) {
      const [v, iv, tag, body] = sealed.split(".");
      if (v !== VERSION || !iv || !tag || body === undefined) throw new Error("not a sealed value");
      const d = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
      d.setAuthTag(Buffer.from(tag, "base64"));
      return Buffer.concat([d.update(Buffer.from(body, "base64")), d.final()]).toString("utf8");
    },
  };
}

export function loadCipher(opts: { key?: string | undefined; dataDir?: string | undefined }): OutputCipher | null {
  if (opts.key) return createCipher(parseKey(opts.key));
  if (!opts.dataDir) return null;
  const file = join(opts.dataDir, "encryption.key");
  if (!existsSync(file)) {
    makeDataDir(opts.dataDir);
    // `wx` so two processes starting together cannot each write a different key.
    try {
      writeFileSync(file, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  return createCipher(parseKey(readFileSync(file, "utf8")));
}
