/**
 * docs/identity.md promises a downstream service can verify a step token in ten
 * lines. This test cuts that exact block out of the document, points it at a local
 * server publishing the app's JWKS (as `GET /.well-known/jwks.json` does in
 * production), and runs it in a separate Node process — across a key rotation done
 * the documented way, and against every kind of bad token.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { decodeProtectedHeader, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jwksHandler, JWKS_PATH } from "../../../src/api/jwks.js";
import { parseServerConfig } from "../../../src/server-config/load.js";
import type { JsonWebKeySet } from "../../../src/identity/keys.js";
import { generateSigningJwk, parseKeyRing, rotateKeyFile } from "../../../src/identity/keys.js";
import { createSigner } from "../../../src/identity/signer.js";
import { StepTokenSigner } from "../../../src/identity/step-token.js";
import { testIdentity } from "../actions/context-helper.js";

const root = join(import.meta.dirname, "../../..");
const DOC_ISSUER = "https://clutch-luigi.example.com";
const run = promisify(execFile);

/** The first ```js block after the "Verifying one downstream" heading. */
async function docSnippet(): Promise<string> {
  const doc = await readFile(join(root, "docs/identity.md"), "utf8");
  const section = doc.slice(doc.indexOf("### Verifying one downstream"));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error("docs/identity.md has no ```js block under \"Verifying one downstream\"");
  return m[1]!;
}

let server: Server;
let base = "";
let published: { jwks(): JsonWebKeySet } = { jwks: () => ({ keys: [] }) };
let work = "";

beforeAll(async () => {
  const handler = jwksHandler({ jwks: () => published.jwks() });
  server = createServer((req, res) => {
    if (req.url === JWKS_PATH) return handler(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  work = await mkdtemp(join(tmpdir(), "cl-doc-snippet-"));
  // The snippet imports "jose" like any service would: let it find this project's copy.
  await symlink(join(root, "node_modules"), join(work, "node_modules"), "dir");
  const snippet = await docSnippet();
  expect(snippet.split("\n").filter((l) => l.trim() !== "").length).toBeLessThanOrEqual(10);
  expect(snippet).toContain(DOC_ISSUER);
  await writeFile(join(work, "verify.mjs"), snippet.replaceAll(DOC_ISSUER, base));
  await writeFile(
    join(work, "runner.mjs"),
    [
      'import { verifyStepToken } from "./verify.mjs";',
      "const results = [];",
      "for (const token of JSON.parse(process.argv[2])) {",
      "  try { const p = await verifyStepToken(`Bearer ${token}`); results.push({ ok: true, sub: p.sub, approvers: p.approvers, run_id: p.run_id }); }",
      "  catch (e) { results.push({ ok: false, code: e.code ?? e.name }); }",
      "}",
      "process.stdout.write(JSON.stringify(results));",
    ].join("\n"),
  );
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

interface Outcome {
  ok: boolean;
  code?: string;
  sub?: string;
  approvers?: unknown;
  run_id?: string;
}

/** One fresh Node process (so a fresh JWKS cache) running the doc's code on each token. */
async function verifyWithDocSnippet(tokens: string[]): Promise<Outcome[]> {
  const { stdout } = await run(process.execPath, ["runner.mjs", JSON.stringify(tokens)], { cwd: work, timeout: 20_000 });
  return JSON.parse(stdout) as Outcome[];
}

async function signerFromFile(keyFile: string): Promise<StepTokenSigner> {
  const config = parseServerConfig(`dataDir: ${work}\nsigning: { issuer: "${base}", keyFile: ${keyFile} }\n`, "server.yaml", {});
  return createSigner(config, {});
}

describe("the ten-line downstream verification in docs/identity.md", () => {
  it("accepts step tokens from before and after a rotation, and refuses every kind of bad token", async () => {
    const keyFile = join(work, "signing-keys.json");
    const first = await rotateKeyFile(keyFile);
    const before = await signerFromFile(keyFile);
    published = before;
    const oldToken = await before.signStepToken(testIdentity({ runId: "run-old" }), "billing-api");

    // Rotation as documented: a new key goes first, the old one stays published; reload.
    const second = await rotateKeyFile(keyFile);
    const after = await signerFromFile(keyFile);
    published = after;
    expect(after.jwks().keys.map((k) => k.kid)).toEqual([second.kid, first.kid]);
    const newToken = await after.signStepToken(testIdentity({ runId: "run-new" }), "billing-api");
    expect(decodeProtectedHeader(oldToken).kid).toBe(first.kid);
    expect(decodeProtectedHeader(newToken).kid).toBe(second.kid);

    const otherAudience = await after.signStepToken(testIdentity(), "payroll-api");
    const expired = await new StepTokenSigner((await parseKeyRing(JSON.stringify({ keys: [second] }), "t")), {
      issuer: base,
      now: () => Date.now() - 10 * 60_000,
    }).signStepToken(testIdentity(), "billing-api");
    const otherIssuer = await new StepTokenSigner(await parseKeyRing(JSON.stringify({ keys: [second] }), "t"), { issuer: "https://evil.example" })
      .signStepToken(testIdentity(), "billing-api");
    const unpublished = await new StepTokenSigner(await parseKeyRing(JSON.stringify({ keys: [await generateSigningJwk("ES256")] }), "t"), { issuer: base })
      .signStepToken(testIdentity(), "billing-api");
    // Same kid as the signing key, different key material: only the signature check catches it.
    const impostorJwk: JWK = { ...(await generateSigningJwk("ES256")), kid: second.kid };
    const impostor = await new StepTokenSigner(await parseKeyRing(JSON.stringify({ keys: [impostorJwk] }), "t"), { issuer: base })
      .signStepToken(testIdentity(), "billing-api");
    const claims = JSON.parse(Buffer.from(newToken.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;

    const results = await verifyWithDocSnippet([oldToken, newToken, otherAudience, expired, otherIssuer, unpublished, impostor, unsigned, "garbage"]);
    expect(results[0]).toEqual({ ok: true, sub: "alice", run_id: "run-old", approvers: [{ login: "bob", review_id: 80 }, { login: "carol", review_id: 81 }] });
    expect(results[1]).toMatchObject({ ok: true, sub: "alice", run_id: "run-new" });
    expect(results.slice(2).map((r) => r.code)).toEqual([
      "ERR_JWT_CLAIM_VALIDATION_FAILED", // audience
      "ERR_JWT_EXPIRED",
      "ERR_JWT_CLAIM_VALIDATION_FAILED", // issuer
      "ERR_JWKS_NO_MATCHING_KEY",
      "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
      "ERR_JOSE_ALG_NOT_ALLOWED",
      "ERR_JWS_INVALID",
    ]);

    // Once the old key is dropped from the file (after its tokens expired), its tokens no longer verify.
    const ring = JSON.parse(await readFile(keyFile, "utf8")) as JsonWebKeySet;
    await writeFile(keyFile, JSON.stringify({ keys: ring.keys.filter((k) => k.kid !== first.kid) }));
    published = await signerFromFile(keyFile);
    const [oldAfterRetire, newAfterRetire] = await verifyWithDocSnippet([oldToken, newToken]);
    expect(oldAfterRetire).toEqual({ ok: false, code: "ERR_JWKS_NO_MATCHING_KEY" });
    expect(newAfterRetire).toMatchObject({ ok: true, run_id: "run-new" });
  });
});
