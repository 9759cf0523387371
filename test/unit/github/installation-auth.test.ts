/**
 * Installation tokens for workers: minted with the app's JWT, one repository per
 * token, cached, and renewed five minutes before GitHub's expires_at (fake clock).
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { importSPKI, jwtVerify } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { appCredentialsFromEnv, AppCredentialsError, githubApiUrl, InstallationTokens, RENEW_BEFORE_MS } from "../../../src/github/installation-auth.js";
import { FakeGitHub } from "../../support/github/index.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PEM = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const APP_ID = "314159";
const HOUR = 3_600_000;
let fake: FakeGitHub;
let clock = Date.parse("2026-12-02T06:00:00Z");
let minted = 0;
let expiresIn = HOUR;
let badExpiry = false;

beforeAll(async () => {
  fake = await new FakeGitHub().start();
  fake.route("POST /app/installations/{installation_id}/access_tokens", () => {
    minted++;
    const expires_at = badExpiry ? "soon" : new Date(clock + expiresIn).toISOString().replace(/\.\d{3}Z$/, "Z");
    return { status: 201, body: fake.api.sample("installation-token", { token: `ghs_minted_${minted}`, expires_at }) };
  });
});
afterAll(async () => fake?.close());
afterEach(() => {
  badExpiry = false;
  expiresIn = HOUR;
  fake.calls.splice(0);
  expect(fake.violations.splice(0)).toEqual([]);
});

const tokens = () => new InstallationTokens({ appId: APP_ID, privateKey: PEM, baseUrl: fake.url, now: () => clock });
const exchanges = () => fake.calls.filter((c) => c.operationId === "apps/create-installation-access-token");

describe("InstallationTokens", () => {
  it("mints a token with the app's JWT, for the one repository only", async () => {
    const t = tokens();
    const token = await t.token(4242, "acme/ops");
    expect(token).toMatch(/^ghs_minted_\d+$/);
    const [call] = exchanges();
    expect(call!.params.installation_id).toBe("4242");
    expect(call!.body).toEqual({ repositories: ["ops"] });
    const jwt = /^bearer (.+)$/i.exec(call!.authorization ?? "")?.[1];
    expect(jwt).toBeDefined();
    const key = await importSPKI(publicKey.export({ type: "spki", format: "pem" }).toString(), "RS256");
    const { payload } = await jwtVerify(jwt!, key);
    expect(payload.iss).toBe(APP_ID);
  });

  it("reuses the token until five minutes before it expires, then renews it", async () => {
    const t = tokens();
    const first = await t.token(4242, "acme/ops");
    clock += HOUR - RENEW_BEFORE_MS - 1_000;
    expect(await t.token(4242, "acme/ops")).toBe(first);
    expect(exchanges()).toHaveLength(1);
    clock += 2_000; // now less than five minutes are left
    const second = await t.token(4242, "acme/ops");
    expect(second).not.toBe(first);
    expect(exchanges()).toHaveLength(2);
    clock += 10 * 60_000;
    expect(await t.token(4242, "acme/ops")).toBe(second);
    expect(exchanges()).toHaveLength(2);
  });

  it("a token that GitHub gives less than five minutes is renewed on every use", async () => {
    expiresIn = 4 * 60_000;
    const t = tokens();
    await t.token(4242, "acme/ops");
    await t.token(4242, "acme/ops");
    expect(exchanges()).toHaveLength(2);
  });

  it("keeps one token per installation and repository", async () => {
    const t = tokens();
    const a = await t.token(4242, "acme/ops");
    const b = await t.token(4242, "acme/other");
    const c = await t.token(7, "acme/ops");
    expect(new Set([a, b, c]).size).toBe(3);
    expect(exchanges().map((x) => [x.params.installation_id, x.body])).toEqual([
      ["4242", { repositories: ["ops"] }],
      ["4242", { repositories: ["other"] }],
      ["7", { repositories: ["ops"] }],
    ]);
    expect(await t.token(4242, "ACME/OPS")).toBe(a);
  });

  it("steps asking at once share one exchange", async () => {
    const t = tokens();
    const all = await Promise.all(Array.from({ length: 20 }, () => t.token(4242, "acme/ops")));
    expect(new Set(all).size).toBe(1);
    expect(exchanges()).toHaveLength(1);
  });

  it("refuses a malformed repository before asking GitHub", async () => {
    for (const bad of ["ops", "acme/ops/x", "../etc", "acme/o ps", "a".repeat(10_000)]) {
      await expect(tokens().token(4242, bad)).rejects.toBeInstanceOf(AppCredentialsError);
    }
    expect(exchanges()).toHaveLength(0);
  });

  it("a token answered without a valid expiry is an error, not a token cached forever", async () => {
    badExpiry = true;
    await expect(tokens().token(4242, "acme/ops")).rejects.toThrow(/expires_at/);
    fake.violations.splice(0); // the fake's answer broke GitHub's schema on purpose
  });
});

describe("appCredentialsFromEnv", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "cl-app-key-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is null without APP_ID or a key: the worker has no app identity", async () => {
    expect(await appCredentialsFromEnv({})).toBeNull();
    expect(await appCredentialsFromEnv({ APP_ID: "1" })).toBeNull();
    expect(await appCredentialsFromEnv({ PRIVATE_KEY: PEM })).toBeNull();
  });

  it("reads the key as Probot does: PEM, escaped newlines, base64, or a file", async () => {
    const file = path.join(dir, "app.pem");
    writeFileSync(file, PEM);
    for (const env of [
      { APP_ID, PRIVATE_KEY: PEM },
      { APP_ID, PRIVATE_KEY: PEM.replace(/\n/g, "\\n") },
      { APP_ID, PRIVATE_KEY: Buffer.from(PEM).toString("base64") },
      { APP_ID, PRIVATE_KEY_PATH: file },
    ]) {
      const c = await appCredentialsFromEnv(env);
      expect(c).toMatchObject({ appId: APP_ID, baseUrl: "https://api.github.com" });
      expect(c!.privateKey.trim()).toBe(PEM.trim());
    }
  });

  it("a broken key is an error that never repeats the key", async () => {
    const secretish = "not-a-key-but-secret-0123456789";
    const err = await appCredentialsFromEnv({ APP_ID, PRIVATE_KEY: secretish }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppCredentialsError);
    expect(String((err as Error).message)).not.toContain(secretish);
    await expect(appCredentialsFromEnv({ APP_ID, PRIVATE_KEY_PATH: path.join(dir, "missing.pem") })).rejects.toThrow(/PRIVATE_KEY_PATH cannot be read/);
    await expect(appCredentialsFromEnv({ APP_ID: "12; drop", PRIVATE_KEY: PEM })).rejects.toThrow(/APP_ID/);
  });

  it("GHE_HOST and GHE_PROTOCOL give the API root Probot uses; anything else is refused", () => {
    expect(githubApiUrl({ GHE_HOST: "ghe.acme.internal" })).toBe("https://ghe.acme.internal/api/v3");
    expect(githubApiUrl({ GHE_HOST: "127.0.0.1:8443", GHE_PROTOCOL: "http" })).toBe("http://127.0.0.1:8443/api/v3");
    for (const env of [{ GHE_HOST: "evil.com/x?" }, { GHE_HOST: "a@b" }, { GHE_HOST: "h", GHE_PROTOCOL: "file" }]) {
      expect(() => githubApiUrl(env)).toThrow(AppCredentialsError);
    }
  });
});
