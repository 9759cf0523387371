/**
 * A local OIDC issuer on 127.0.0.1: serves its JWKS over real HTTP and mints tokens,
 * including the broken ones a verifier must refuse (wrong key, unknown kid, expired…).
 * It rotates like real issuers do: several keys published by kid, the newest signing.
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
  /** Sign with this published key instead of the newest one (a token minted before a rotation). */
  signWith?: string;
  /** Sign with HMAC-SHA256, using the published public key's JSON as the shared secret (algorithm confusion). */
  hmacWithPublicKey?: boolean;
  claims?: JWTPayload;
}

export interface LocalOidcIssuer {
  url: string;
  jwksUrl: string;
  /** The kid of the key that signs now (the newest). */
  kid: string;
  /** Every published kid, newest first. */
  kids(): string[];
  /** Publish a new key first; it signs from now on, the older keys stay published. */
  rotate(): Promise<string>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  mint(options?: MintOptions): Promise<string>;
  /** An unsigned `alg: none` token carrying the given claims. */
  mintUnsigned(claims: JWTPayload): string;
  close(): Promise<void>;
}

interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(kid: string): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

export async function startOidcIssuer(options: { path?: string } = {}): Promise<LocalOidcIssuer> {
  const keys: IssuerKey[] = [await newKey("test-key-1")];
  const foreign = await generateKeyPair("RS256", { extractable: true });
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === "/.well-known/jwks") {
      fetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${options.path ?? ""}`;

  const issuer: LocalOidcIssuer = {
    url,
    jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks`,
    kid: keys[0]!.kid,
    kids: () => keys.map((k) => k.kid),
    async rotate() {
      const key = await newKey(`test-key-${keys.length + 1}`);
      keys.unshift(key);
      issuer.kid = key.kid;
      return key.kid;
    },
    jwksFetches: () => fetches,
    async mint(o: MintOptions = {}) {
      const now = Math.floor(Date.now() / 1000);
      const signer = o.signWith ? keys.find((k) => k.kid === o.signWith) : keys[0];
      if (!signer) throw new Error(`no published key ${o.signWith}`);
      const jwt = new SignJWT({ ...(o.claims ?? {}) })
        .setProtectedHeader({ alg: o.hmacWithPublicKey ? "HS256" : "RS256", kid: o.kid ?? signer.kid, typ: "JWT" })
        .setIssuer(o.issuer ?? url)
        .setAudience(o.audience ?? "clutch-luigi")
        .setSubject(o.subject ?? "repo:acme/ops:ref:refs/heads/main")
        .setIssuedAt(o.issuedAt ?? now)
        .setExpirationTime(now + (o.expiresIn ?? 300));
      if (o.notBefore !== undefined) jwt.setNotBefore(o.notBefore);
      if (o.hmacWithPublicKey) return jwt.sign(new TextEncoder().encode(JSON.stringify(signer.publicJwk)));
      return jwt.sign(o.foreignKey ? foreign.privateKey : signer.privateKey);
    },
    mintUnsigned(claims) {
      const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
      return `${enc({ alg: "none", typ: "JWT" })}.${enc(claims)}.`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return issuer;
}
