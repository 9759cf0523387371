/**
 * The app's signing keys. A key ring is a JWKS of private keys, listed newest first:
 * the first key signs, every key is published, so tokens signed just before a
 * rotation still verify. Public-only entries (no `d`) are published but never sign:
 * that is how a retired key stays verifiable for the last tokens it signed.
 */
import { chmod, link, mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, importPKCS8, type CryptoKey, type JWK } from "jose";
import { makeDataDir } from "../server-config/data-dir.js";

export type SigningAlgorithm = "ES256" | "EdDSA";
const ALGORITHMS: SigningAlgorithm[] = ["ES256", "EdDSA"];

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  /** Undefined for a retired key kept only so its tokens verify until they expire. */
  privateKey?: CryptoKey;
  publicJwk: JWK;
}

export interface JsonWebKeySet {
  keys: JWK[];
}

export class KeyRingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyRingError";
  }
}

export class KeyRing {
  constructor(readonly keys: SigningKey[]) {
    if (!keys.some((k) => k.privateKey)) throw new KeyRingError("the key ring has no private key to sign with");
    const kids = new Set<string>();
    for (const k of keys) {
      if (kids.has(k.kid)) throw new KeyRingError(`key id "${k.kid}" appears twice`);
      kids.add(k.kid);
    }
  }

  /** The key that signs: the first one holding a private part. */
  current(): SigningKey & { privateKey: CryptoKey } {
    return this.keys.find((k) => k.privateKey) as SigningKey & { privateKey: CryptoKey };
  }

  /** The public document served at `/.well-known/jwks.json`. */
  jwks(): JsonWebKeySet {
    return { keys: this.keys.map((k) => ({ ...k.publicJwk })) };
  }
}

const PRIVATE_PARTS = ["d", "p", "q", "dp", "dq", "qi"];

function publicPart(jwk: JWK, kid: string, alg: SigningAlgorithm): JWK {
  const pub: JWK = {};
  for (const [k, v] of Object.entries(jwk)) if (!PRIVATE_PARTS.includes(k)) (pub as Record<string, unknown>)[k] = v;
  return { ...pub, kid, alg, use: "sig" };
}

function algOf(jwk: JWK): SigningAlgorithm {
  if (jwk.alg && (ALGORITHMS as string[]).includes(jwk.alg)) return jwk.alg as SigningAlgorithm;
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  throw new KeyRingError(`unsupported key (kty ${String(jwk.kty)}, crv ${String(jwk.crv)}): use ES256 (P-256) or EdDSA (Ed25519)`);
}

async function keyFromJwk(jwk: JWK): Promise<SigningKey> {
  const alg = algOf(jwk);
  const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
  const privateKey = jwk.d ? ((await importJWK({ ...jwk, alg }, alg)) as CryptoKey) : undefined;
  return { kid, alg, privateKey, publicJwk: publicPart(jwk, kid, alg) };
}

/** A JWKS (JSON) of private keys, newest first, or a single PKCS#8 PEM key. */
export async function parseKeyRing(text: string, source: string): Promise<KeyRing> {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith("-----BEGIN")) {
      for (const alg of ALGORITHMS) {
        try {
          const privateKey = await importPKCS8(trimmed, alg, { extractable: true });
          const jwk = await exportJWK(privateKey);
          return new KeyRing([await keyFromJwk({ ...jwk, alg })]);
        } catch {
          // Try the next algorithm: the PEM does not say which curve it holds.
        }
      }
      throw new KeyRingError("the PEM key is neither a P-256 (ES256) nor an Ed25519 (EdDSA) PKCS#8 private key");
    }
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch {
      throw new KeyRingError("expected a JWKS (JSON with a `keys` array) or a PKCS#8 PEM private key");
    }
    const keys = (doc as { keys?: unknown }).keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new KeyRingError("a JWKS needs a non-empty `keys` array");
    return new KeyRing(await Promise.all(keys.map((k) => keyFromJwk(k as JWK))));
  } catch (e) {
    // The message never contains key material: only what kind of problem it is.
    throw new KeyRingError(`signing key from ${source}: ${(e as Error).message}`);
  }
}

/** A fresh private JWK with a thumbprint kid. */
export async function generateSigningJwk(alg: SigningAlgorithm = "ES256"): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg, use: "sig" };
}

async function writePrivate(path: string, doc: JsonWebKeySet): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/**
 * Put a new key first in a JWKS file (creating it if needed). Older keys stay published
 * so tokens they signed keep verifying; beyond `keep` keys the oldest are dropped.
 */
export async function rotateKeyFile(path: string, options: { alg?: SigningAlgorithm; keep?: number } = {}): Promise<JWK> {
  let existing: JWK[] = [];
  try {
    existing = (JSON.parse(await readFile(path, "utf8")) as JsonWebKeySet).keys ?? [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new KeyRingError(`cannot rotate ${path}: ${(e as Error).message}`);
  }
  const fresh = await generateSigningJwk(options.alg);
  await writePrivate(path, { keys: [fresh, ...existing].slice(0, Math.max(2, options.keep ?? 3)) });
  return fresh;
}

export interface LoadKeyRingOptions {
  keyFile?: string;
  env?: Record<string, string | undefined>;
  dataDir: string;
  algorithm?: SigningAlgorithm;
}

export const GENERATED_KEY_FILE = "signing-keys.json";

/**
 * Where the signing key comes from, in order: the configured key file,
 * CLUTCH_LUIGI_SIGNING_KEY (JWKS or PEM text), else a key generated once and kept
 * in the data directory (local use: the embedded setup).
 */
export async function loadKeyRing(options: LoadKeyRingOptions): Promise<KeyRing> {
  const env = options.env ?? process.env;
  if (options.keyFile) {
    let text: string;
    try {
      text = await readFile(options.keyFile, "utf8");
    } catch (e) {
      throw new KeyRingError(`cannot read signing key file ${options.keyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return parseKeyRing(text, options.keyFile);
  }
  const fromEnv = env.CLUTCH_LUIGI_SIGNING_KEY;
  if (fromEnv) return parseKeyRing(fromEnv, "CLUTCH_LUIGI_SIGNING_KEY");
  const path = join(options.dataDir, GENERATED_KEY_FILE);
  try {
    return parseKeyRing(await readFile(path, "utf8"), path);
  } catch (e) {
    if (!(e instanceof Error && "code" in e && (e as NodeJS.ErrnoException).code === "ENOENT")) throw e;
  }
  await createKeyFileOnce(path, options.algorithm);
  return parseKeyRing(await readFile(path, "utf8"), path);
}

/**
 * Write a fresh key file unless one appeared meanwhile: `clutch-luigi run` and a
 * `worker` started together on a new data dir must end up signing with the same key,
 * so the file is linked into place (which never overwrites) and the loser reads the winner's.
 */
async function createKeyFileOnce(path: string, alg?: SigningAlgorithm): Promise<void> {
  makeDataDir(dirname(path));
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ keys: [await generateSigningJwk(alg)] }, null, 2)}\n`, { mode: 0o600 });
  try {
    await link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new KeyRingError(`cannot create ${path}: ${(e as Error).message}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
