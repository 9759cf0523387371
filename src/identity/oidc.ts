/**
 * Inbound OIDC: who is calling the app's HTTP API. Only issuers named in the server
 * configuration are trusted, each with its audience and JWKS URL; GitHub Actions
 * tokens must also come from an allowed repository (and workflow).
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { GITHUB_ACTIONS_ISSUER, type OidcIssuerConfig } from "../server-config/types.js";

export interface CallerIdentity {
  issuer: string;
  subject: string;
  /** A login-like name from the configured claim, when the token has one. */
  login?: string;
  /** GitHub Actions: `owner/name` and workflow the token was minted for. */
  repository?: string;
  workflow?: string;
  claims: JWTPayload;
}

export type RejectReason =
  | "missing-token"
  | "malformed"
  | "algorithm"
  | "unknown-issuer"
  | "audience"
  | "expired"
  | "not-yet-valid"
  | "signature"
  | "unknown-kid"
  | "claims"
  | "jwks-unavailable";

/** What gets audited about a refused token. Never the token itself. */
export interface OidcRejectEvent {
  type: "oidc.rejected";
  reason: RejectReason;
  message: string;
  /** Claimed, unverified: useful to spot who tries, never trusted. */
  issuer?: string;
  subject?: string;
  at: string;
  remoteAddress?: string;
  path?: string;
}

export class OidcRejection extends Error {
  constructor(readonly reason: RejectReason, message: string) {
    super(message);
    this.name = "OidcRejection";
  }
}

export interface OidcVerifierOptions {
  onReject?: (event: OidcRejectEvent) => void;
  /** Writes the audit row (owned by the store). Awaited before the 401 goes out. */
  audit?: (event: OidcRejectEvent) => void | Promise<void>;
  /** For tests: how a JWKS URL becomes a key resolver. Defaults to jose's createRemoteJWKSet. */
  keySet?: (jwksUrl: URL) => JWTVerifyGetKey;
  now?: () => number;
}

export interface RequestInfo {
  remoteAddress?: string;
  path?: string;
}

const DEFAULT_ALGORITHMS = ["RS256", "ES256", "EdDSA"];

export class OidcVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(private readonly issuers: OidcIssuerConfig[], private readonly options: OidcVerifierOptions = {}) {}

  /** Verify a bearer token; on failure, report the rejection and throw OidcRejection. */
  async verify(token: string | undefined, info: RequestInfo = {}): Promise<CallerIdentity> {
    let claimed: JWTPayload | undefined;
    try {
      if (!token) throw new OidcRejection("missing-token", "no bearer token");
      claimed = this.decode(token);
      return await this.check(token, claimed);
    } catch (e) {
      const rejection = e instanceof OidcRejection ? e : toRejection(e);
      const event: OidcRejectEvent = {
        type: "oidc.rejected",
        reason: rejection.reason,
        message: rejection.message,
        ...(typeof claimed?.iss === "string" ? { issuer: claimed.iss.slice(0, 200) } : {}),
        ...(typeof claimed?.sub === "string" ? { subject: claimed.sub.slice(0, 200) } : {}),
        at: new Date(this.options.now?.() ?? Date.now()).toISOString(),
        ...(info.remoteAddress ? { remoteAddress: info.remoteAddress } : {}),
        ...(info.path ? { path: info.path } : {}),
      };
      this.options.onReject?.(event);
      await this.options.audit?.(event);
      throw rejection;
    }
  }

  private decode(token: string): JWTPayload {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let payload: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token);
    } catch {
      throw new OidcRejection("malformed", "the bearer token is not a JWT");
    }
    // Refused before any key lookup: an unsigned token must never reach verification.
    if (typeof header.alg !== "string" || header.alg.toLowerCase() === "none") {
      throw new OidcRejection("algorithm", `algorithm "${String(header.alg)}" is not accepted`);
    }
    return payload;
  }

  private async check(token: string, claimed: JWTPayload): Promise<CallerIdentity> {
    const candidates = this.issuers.filter((i) => i.issuer === claimed.iss);
    if (candidates.length === 0) throw new OidcRejection("unknown-issuer", `issuer ${shown(claimed.iss)} is not trusted`);
    const audiences = Array.isArray(claimed.aud) ? claimed.aud : [claimed.aud];
    const issuer = candidates.find((c) => audiences.includes(c.audience));
    if (!issuer) throw new OidcRejection("audience", `audience ${shown(claimed.aud)} is not accepted for ${claimed.iss}`);

    const { payload } = await jwtVerify(token, this.keySet(issuer.jwksUrl), {
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: issuer.algorithms ?? DEFAULT_ALGORITHMS,
      clockTolerance: issuer.clockToleranceSec ?? 30,
      requiredClaims: ["exp", "iat", "sub"],
      ...(this.options.now ? { currentDate: new Date(this.options.now()) } : {}),
    });

    const repository = typeof payload.repository === "string" ? payload.repository : undefined;
    const workflow = typeof payload.workflow === "string" ? payload.workflow : undefined;
    if (issuer.issuer === GITHUB_ACTIONS_ISSUER || issuer.repositories) {
      if (!repository || !(issuer.repositories ?? []).some((r) => r.toLowerCase() === repository.toLowerCase())) {
        throw new OidcRejection("claims", `repository ${shown(repository)} may not call this API`);
      }
    }
    if (issuer.workflows && (!workflow || !issuer.workflows.includes(workflow))) {
      throw new OidcRejection("claims", `workflow ${shown(workflow)} may not call this API`);
    }
    const subject = claimString(payload, issuer.claims?.subject ?? "sub");
    if (!subject) throw new OidcRejection("claims", `the token has no ${issuer.claims?.subject ?? "sub"} claim`);
    const login = claimString(payload, issuer.claims?.login ?? (issuer.issuer === GITHUB_ACTIONS_ISSUER ? "actor" : "preferred_username"));
    return {
      issuer: issuer.issuer,
      subject,
      ...(login ? { login } : {}),
      ...(repository ? { repository } : {}),
      ...(workflow ? { workflow } : {}),
      claims: payload,
    };
  }

  private keySet(url: string): JWTVerifyGetKey {
    let ks = this.keySets.get(url);
    if (!ks) {
      ks = this.options.keySet?.(new URL(url)) ?? createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      this.keySets.set(url, ks);
    }
    return ks;
  }
}

/** A claimed value for a message: the caller chose it, so it is quoted and bounded before it reaches the audit trail. */
function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function claimString(payload: JWTPayload, name: string): string | undefined {
  const v = payload[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function toRejection(e: unknown): OidcRejection {
  const err = e as { code?: string; claim?: string; message?: string };
  switch (err.code) {
    case "ERR_JWT_EXPIRED":
      return new OidcRejection("expired", "the token has expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (err.claim === "iss") return new OidcRejection("unknown-issuer", "unexpected issuer");
      if (err.claim === "aud") return new OidcRejection("audience", "unexpected audience");
      if (err.claim === "nbf" || err.claim === "iat") return new OidcRejection("not-yet-valid", `the token is not valid yet (${err.claim})`);
      return new OidcRejection("claims", `claim check failed: ${err.message ?? "invalid"}`);
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return new OidcRejection("signature", "the signature does not verify");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return new OidcRejection("algorithm", "the token's algorithm is not accepted");
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return new OidcRejection("unknown-kid", "no key in the issuer's JWKS matches the token's kid");
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
      return new OidcRejection("jwks-unavailable", "the issuer's JWKS could not be fetched");
    case "ERR_JWT_INVALID":
    case "ERR_JWS_INVALID":
      return new OidcRejection("malformed", "the token is malformed");
    default:
      return new OidcRejection("jwks-unavailable", `the token could not be verified (${err.code ?? "error"})`);
  }
}
