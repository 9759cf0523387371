/**
 * The server configuration (DESIGN.md §2): what the ops repository cannot hold.
 * It names where secrets live and which systems steps may reach; a pull request
 * can never change it.
 */

export interface PostgresConnectionConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Name of an entry in `secrets` holding the password. Omit for trust/peer auth. */
  passwordSecret?: string;
  ssl?: boolean;
  /** Milliseconds to wait for a connection before failing with class `connection`. */
  connectTimeoutMs?: number;
}

export interface HttpServiceConfig {
  baseUrl: string;
  /** `aud` of the step token sent to this service. Defaults to the base URL's origin. */
  audience?: string;
  /** Header carrying the token; default `authorization` (as `Bearer <jwt>`). */
  tokenHeader?: string;
}

export type SecretSource = { env: string } | { file: string };

export interface ShellCommandConfig {
  /** Absolute path of the executable. */
  path: string;
  /** Fixed environment given to every invocation, before the step's own variables. */
  env?: Record<string, string>;
}

export interface OidcIssuerConfig {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Signature algorithms accepted from this issuer (never `none`). Default RS256, ES256, EdDSA. */
  algorithms?: string[];
  /** Which claims become the caller's identity. */
  claims?: { subject?: string; login?: string };
  /** For GitHub Actions: `repository` claims that may call (`owner/name`). */
  repositories?: string[];
  /** For GitHub Actions: `workflow` claims that may call. Omit to allow any workflow of the repositories. */
  workflows?: string[];
  /** Seconds of clock skew tolerated. Default 30. */
  clockToleranceSec?: number;
}

export interface SigningConfig {
  /** `iss` of step tokens: the public URL that serves `/.well-known/jwks.json`. */
  issuer: string;
  /** A JWKS (private keys) or a PEM private key. Takes precedence over CLUTCH_LUIGI_SIGNING_KEY. */
  keyFile?: string;
  /** Algorithm for a generated key. Default ES256. */
  algorithm?: "ES256" | "EdDSA";
}

/**
 * How the GitHub actions reach GitHub when the app does not hand them its installation
 * client (`clutch-luigi run` and `worker` outside the app): a token from a named secret.
 */
export interface GitHubConfig {
  /** Name of an entry in `secrets` holding a GitHub token (an installation token or a PAT). */
  tokenSecret: string;
  /** REST API root; default https://api.github.com (GitHub Enterprise: https://HOST/api/v3). */
  apiUrl: string;
}

/**
 * An identity that may read every run through the HTTP API (`api.operators`). Every
 * field given must match the verified caller; `issuer` narrows a rule to one issuer.
 */
export interface ApiOperatorRule {
  issuer?: string;
  /** The caller's subject (the issuer's configured subject claim). */
  subject?: string;
  /** The caller's login claim (GitHub Actions: `actor`). */
  login?: string;
  /** A GitHub Actions token's `repository` (`owner/name`): its workflows read all runs. */
  repository?: string;
}

export interface ServerConfig {
  /** Where the file came from, or undefined for the empty local default. */
  source?: string;
  dataDir: string;
  connections: {
    postgres: Record<string, PostgresConnectionConfig>;
    http: Record<string, HttpServiceConfig>;
  };
  secrets: Record<string, SecretSource>;
  shell: { allow: Record<string, ShellCommandConfig> };
  oidc: { issuers: OidcIssuerConfig[] };
  signing: SigningConfig;
  github?: GitHubConfig;
  worker: { concurrency: number };
  api: { operators: ApiOperatorRule[] };
}

export const GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com";
