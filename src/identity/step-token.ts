/**
 * Step tokens: a short-lived JWT per step call that tells a downstream service who
 * asked, who approved, and which commit and run the call belongs to.
 */
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import type { IdentityContext } from "../actions/types.js";
import type { JsonWebKeySet, KeyRing } from "./keys.js";

/** Hard ceiling on a step token's lifetime (issue 5: exp at most 5 minutes out). */
export const MAX_STEP_TOKEN_TTL_SECONDS = 300;

/** The claims of a step token besides the registered ones (iss, aud, sub, iat, exp, jti). */
export interface StepTokenClaims {
  repository: string;
  pull_request?: number;
  commit?: string;
  request_path: string;
  workflow: string;
  requester: { login: string; type: string };
  approvers: { login: string; review_id?: number }[];
  break_glass: boolean;
  run_id: string;
  step_id: string;
  attempt: number;
  idempotency_key: string;
}

export function stepTokenClaims(identity: IdentityContext): StepTokenClaims {
  return {
    repository: identity.repository,
    ...(identity.pullRequest !== undefined ? { pull_request: identity.pullRequest } : {}),
    ...(identity.commit !== undefined ? { commit: identity.commit } : {}),
    request_path: identity.requestPath,
    workflow: identity.workflow,
    requester: { login: identity.requester.login, type: identity.requester.type },
    approvers: identity.approvers.map((a) => (a.reviewId !== undefined ? { login: a.login, review_id: a.reviewId } : { login: a.login })),
    break_glass: identity.breakGlass === true,
    run_id: identity.runId,
    step_id: identity.stepId,
    attempt: identity.attempt,
    idempotency_key: identity.idempotencyKey,
  };
}

export interface StepTokenSignerOptions {
  /** `iss`: the app's public URL, which serves `/.well-known/jwks.json`. */
  issuer: string;
  /** Seconds until `exp`; capped at 300. */
  ttlSeconds?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export class StepTokenSigner {
  readonly issuer: string;
  private readonly ttl: number;
  private readonly now: () => number;

  constructor(private readonly ring: KeyRing, options: StepTokenSignerOptions) {
    this.issuer = options.issuer;
    this.ttl = Math.min(options.ttlSeconds ?? MAX_STEP_TOKEN_TTL_SECONDS, MAX_STEP_TOKEN_TTL_SECONDS);
    if (!(this.ttl > 0)) throw new Error("step token lifetime must be positive");
    this.now = options.now ?? Date.now;
  }

  async signStepToken(identity: IdentityContext, audience: string): Promise<string> {
    if (typeof audience !== "string" || audience.trim() === "") throw new Error("a step token needs an audience (the target service)");
    const key = this.ring.current();
    const iat = Math.floor(this.now() / 1000);
    return new SignJWT({ ...stepTokenClaims(identity) })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setSubject(identity.requester.login)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.ttl)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  jwks(): JsonWebKeySet {
    return this.ring.jwks();
  }
}
