/**
 * A local OIDC issuer on 127.0.0.1: serves its JWKS over real HTTP and mints tokens,
 * including the broken ones a verifier must refuse (wrong key, unknown kid, expired…).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

export interface MintOptions {
  audience?: string;
  subject?: string;
  issuer?: string;
  /** Seconds from now; negative for an already expired token. */
  expiresIn?: number;
  issuedAt?: number;
  notBefore?: number;
  kid?: string;
  /** Sign with a key that is not in the published JWKS (same kid). */
  foreignKey?: boolean;
  claims?: JWTPayload;
}

export interface LocalOidcIssuer {
  url: string;
  jwksUrl: string;
  kid: string;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  mint(options?: MintOptions): Promise<string>;
  /** An unsigned `alg: none` token carrying the given claims. */
  mintUnsigned(claims: JWTPayload): string;
  close(): Promise<void>;
}

export async function startOidcIssuer(options: { path?: string } = {}): Promise<LocalOidcIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const foreign = await generateKeyPair("RS256", { extractable: true });
  const kid = "test-key-1";
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === "/.well-known/jwks") {
      fetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [publicJwk] }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${options.path ?? ""}`;

  return {
    url,
    jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks`,
    kid,
    jwksFetches: () => fetches,
    async mint(o: MintOptions = {}) {
      const now = Math.floor(Date.now() / 1000);
      const key: CryptoKey = o.foreignKey ? foreign.privateKey : privateKey;
      const jwt = new SignJWT({ ...(o.claims ?? {}) })
        .setProtectedHeader({ alg: "RS256", kid: o.kid ?? kid, typ: "JWT" })
        .setIssuer(o.issuer ?? url)
        .setAudience(o.audience ?? "clutch-luigi")
        .setSubject(o.subject ?? "repo:acme/ops:ref:refs/heads/main")
        .setIssuedAt(o.issuedAt ?? now)
        .setExpirationTime(now + (o.expiresIn ?? 300));
      if (o.notBefore !== undefined) jwt.setNotBefore(o.notBefore);
      return jwt.sign(key);
    },
    mintUnsigned(claims) {
      const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
      return `${enc({ alg: "none", typ: "JWT" })}.${enc(claims)}.`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
