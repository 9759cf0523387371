/**
 * Installation tokens for workers: any worker process with the app's credentials
 * (APP_ID and its private key) acts as the app on a run's installation. Each token
 * is asked for one repository only (`repositories: [name]`), cached per
 * installation and repository, and renewed well before GitHub expires it, so a
 * step never starts with a token that dies mid-call.
 */
import { readFile } from "node:fs/promises";
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";

/** A token is renewed when it has less than this left (GitHub's last an hour). */
export const RENEW_BEFORE_MS = 5 * 60_000;

export class AppCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AppCredentialsError";
  }
}

export interface AppCredentials {
  appId: string;
  /** PEM; held in memory only, never logged. */
  privateKey: string;
  /** REST API root (Probot's: https://api.github.com, or GHE_PROTOCOL://GHE_HOST/api/v3). */
  baseUrl: string;
}

export interface InstallationTokenOptions extends AppCredentials {
  /** Milliseconds since the epoch; tests pass a fake clock. */
  now?: () => number;
}

/** The API root Probot uses for the same environment. */
export function githubApiUrl(env: NodeJS.ProcessEnv): string {
  if (!env.GHE_HOST) return "https://api.github.com";
  const protocol = env.GHE_PROTOCOL || "https";
  if (protocol !== "https" && protocol !== "http") throw new AppCredentialsError(`GHE_PROTOCOL must be https or http, got ${JSON.stringify(protocol)}`);
  if (!/^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(env.GHE_HOST)) throw new AppCredentialsError("GHE_HOST must be a host name, optionally with :port");
  return `${protocol}://${env.GHE_HOST}/api/v3`;
}

/**
 * The app's credentials from Probot's environment, or null when APP_ID or the key is
 * not set (the worker then has no app identity). A key that is set but unreadable is
 * an error: silently running without it would hide a broken deployment.
 */
export async function appCredentialsFromEnv(env: NodeJS.ProcessEnv): Promise<AppCredentials | null> {
  const appId = env.APP_ID?.trim();
  if (!appId || (!env.PRIVATE_KEY && !env.PRIVATE_KEY_PATH)) return null;
  if (!/^\d+$/.test(appId)) throw new AppCredentialsError("APP_ID must be the app's numeric id");
  let key: string;
  if (env.PRIVATE_KEY) {
    key = env.PRIVATE_KEY;
  } else {
    try {
      key = await readFile(env.PRIVATE_KEY_PATH!, "utf8");
    } catch (e) {
      throw new AppCredentialsError(`PRIVATE_KEY_PATH cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  return { appId, privateKey: normalizeKey(key), baseUrl: githubApiUrl(env) };
}

/** As Probot accepts it: PEM, PEM with escaped newlines (one-line env files), or base64 of the PEM. */
function normalizeKey(raw: string): string {
  const text = raw.trim();
  if (text.includes("-----BEGIN")) return text.replace(/\\n/g, "\n");
  const decoded = Buffer.from(text, "base64").toString("utf8");
  if (decoded.includes("-----BEGIN")) return decoded;
  // The message names the variable, never any part of its value.
  throw new AppCredentialsError("the app's private key (PRIVATE_KEY / PRIVATE_KEY_PATH) is not a PEM key");
}

interface Cached {
  token: string;
  expiresAt: number;
}

export class InstallationTokens {
  private readonly auth: ReturnType<typeof createAppAuth>;
  private readonly now: () => number;
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<Cached>>();

  constructor(readonly options: InstallationTokenOptions) {
    this.now = options.now ?? Date.now;
    const request = new Octokit({ baseUrl: options.baseUrl, userAgent: "clutch-luigi", log: { debug() {}, info() {}, warn() {}, error() {} } }).request;
    this.auth = createAppAuth({ appId: options.appId, privateKey: options.privateKey, request });
  }

  /** A token for `repository` (`owner/name`) on this installation, minted or renewed as needed. */
  async token(installationId: number, repository: string): Promise<string> {
    const name = repositoryName(repository);
    const key = `${installationId}:${repository.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt - this.now() > RENEW_BEFORE_MS) return hit.token;
    // Steps starting together share one exchange instead of minting a token each.
    let inflight = this.pending.get(key);
    if (!inflight) {
      inflight = this.mint(installationId, name).finally(() => this.pending.delete(key));
      this.pending.set(key, inflight);
    }
    const fresh = await inflight;
    this.cache.set(key, fresh);
    return fresh.token;
  }

  private async mint(installationId: number, name: string): Promise<Cached> {
    // refresh: our cache decides when to renew; auth-app's own would hand back a token
    // by its own clock and margin.
    const res = await this.auth({ type: "installation", installationId, repositoryNames: [name], refresh: true });
    const expiresAt = Date.parse(res.expiresAt);
    if (!Number.isFinite(expiresAt)) throw new AppCredentialsError("GitHub answered an installation token without a valid expires_at");
    return { token: res.token, expiresAt };
  }
}

function repositoryName(repository: string): string {
  const m = /^[A-Za-z0-9_.-]{1,100}\/([A-Za-z0-9_.-]{1,100})$/.exec(repository);
  // "." and ".." are no repository's name, only a path's.
  if (!m || repository.split("/").some((part) => /^\.+$/.test(part))) throw new AppCredentialsError(`repository must be owner/name, got ${JSON.stringify(repository.slice(0, 200))}`);
  return m[1]!;
}
