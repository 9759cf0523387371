import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GENERATED_KEY_FILE, generateSigningJwk, KeyRingError, loadKeyRing, parseKeyRing, rotateKeyFile } from "../../../src/identity/keys.js";

const tmp = () => mkdtemp(join(tmpdir(), "cl-keys-"));

describe("key ring", () => {
  it("publishes only public parts, with kid, alg and use", async () => {
    const ring = await parseKeyRing(JSON.stringify({ keys: [await generateSigningJwk("ES256"), await generateSigningJwk("EdDSA")] }), "t");
    const jwks = ring.jwks();
    expect(jwks.keys).toHaveLength(2);
    for (const k of jwks.keys) {
      expect(k.d).toBeUndefined();
      expect(k.kid).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(k.use).toBe("sig");
    }
    expect(jwks.keys.map((k) => k.alg)).toEqual(["ES256", "EdDSA"]);
    expect(ring.current().kid).toBe(jwks.keys[0]!.kid);
  });

  it("signs with the first private key and keeps public-only (retired) keys published", async () => {
    const retired = await generateSigningJwk("ES256");
    const { d: _d, ...retiredPublic } = retired;
    const current = await generateSigningJwk("ES256");
    const ring = await parseKeyRing(JSON.stringify({ keys: [retiredPublic, current] }), "t");
    expect(ring.current().kid).toBe(current.kid);
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([retired.kid, current.kid]);
  });

  it("publishes a key added last without signing with it (first rollout of a multi-replica rotation)", async () => {
    const current = await generateSigningJwk("ES256");
    const next = await generateSigningJwk("ES256");
    const staged = await parseKeyRing(JSON.stringify({ keys: [current, next] }), "t");
    expect(staged.current().kid).toBe(current.kid);
    expect(staged.jwks().keys.map((k) => k.kid)).toEqual([current.kid, next.kid]);
    const promoted = await parseKeyRing(JSON.stringify({ keys: [next, current] }), "t");
    expect(promoted.current().kid).toBe(next.kid);
  });

  it("reads a PKCS#8 PEM key of either algorithm", async () => {
    for (const [type, alg] of [["ec", "ES256"], ["ed25519", "EdDSA"]] as const) {
      const { privateKey } = type === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
      const ring = await parseKeyRing(privateKey.export({ type: "pkcs8", format: "pem" }).toString(), "pem");
      expect(ring.current().alg).toBe(alg);
    }
  });

  it("refuses unusable keys with messages that hold no key material", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const err = await parseKeyRing(pem, "rsa.pem").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyRingError);
    expect((err as Error).message).toMatch(/neither a P-256/);
    expect((err as Error).message).not.toContain(pem.split("\n")[1]!);
    await expect(parseKeyRing("{}", "x")).rejects.toThrow(/non-empty `keys`/);
    await expect(parseKeyRing("not a key", "x")).rejects.toThrow(/expected a JWKS/);
    const pub = await generateSigningJwk();
    const { d: _d, ...publicOnly } = pub;
    await expect(parseKeyRing(JSON.stringify({ keys: [publicOnly] }), "x")).rejects.toThrow(/no private key/);
  });

  it("generates a key into the data dir once (mode 0600) and reuses it", async () => {
    const dataDir = join(await tmp(), "data");
    const first = await loadKeyRing({ dataDir, env: {} });
    const file = join(dataDir, GENERATED_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const second = await loadKeyRing({ dataDir, env: {} });
    expect(second.current().kid).toBe(first.current().kid);
  });

  it("processes starting together on a fresh data dir all sign with the one key that was kept", async () => {
    const dataDir = join(await tmp(), "data");
    const rings = await Promise.all(Array.from({ length: 8 }, () => loadKeyRing({ dataDir, env: {} })));
    const kept = await parseKeyRing(await readFile(join(dataDir, GENERATED_KEY_FILE), "utf8"), "kept");
    expect(new Set(rings.map((r) => r.current().kid))).toEqual(new Set([kept.current().kid]));
    expect((await readdir(dataDir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("prefers the key file, then CLUTCH_LUIGI_SIGNING_KEY, over the data dir", async () => {
    const dir = await tmp();
    const fileKey = await generateSigningJwk();
    const envKey = await generateSigningJwk();
    await writeFile(join(dir, "keys.json"), JSON.stringify({ keys: [fileKey] }));
    const env = { CLUTCH_LUIGI_SIGNING_KEY: JSON.stringify({ keys: [envKey] }) };
    expect((await loadKeyRing({ keyFile: join(dir, "keys.json"), env, dataDir: dir })).current().kid).toBe(fileKey.kid);
    expect((await loadKeyRing({ env, dataDir: dir })).current().kid).toBe(envKey.kid);
    await expect(loadKeyRing({ keyFile: join(dir, "absent.json"), env, dataDir: dir })).rejects.toThrow(/cannot read signing key file .*ENOENT/);
  });

  it("rotation puts the new key first and keeps the previous ones published, up to `keep`", async () => {
    const file = join(await tmp(), "keys.json");
    const a = await rotateKeyFile(file);
    const b = await rotateKeyFile(file);
    let ring = await parseKeyRing(await readFile(file, "utf8"), file);
    expect(ring.current().kid).toBe(b.kid);
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([b.kid, a.kid]);
    const c = await rotateKeyFile(file, { keep: 2 });
    ring = await parseKeyRing(await readFile(file, "utf8"), file);
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([c.kid, b.kid]);
  });
});
