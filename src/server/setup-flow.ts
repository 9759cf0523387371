/**
 * First start without credentials: GitHub's manifest flow, as Probot offers it. The
 * page at `/` (and `/probot`) posts the app's manifest (app.yml, with this server's
 * webhook and redirect URLs) to GitHub's "new app" form; GitHub redirects back to
 * `/probot/setup?code=…&state=…`; the code is exchanged for the new app's id, key
 * and webhook secret, which are written to `.env` (mode 0600) for the next start.
 *
 * `state` is a random value minted per page view and required on the way back, so a
 * link carrying someone else's code cannot make this server adopt a foreign app.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { Octokit } from "@octokit/rest";
import dotenv from "dotenv";
import { parse as parseYaml } from "yaml";
import type { Middleware } from "./http.js";
import { DEFAULT_WEBHOOK_PATH } from "./probot.js";

export interface SetupFlowOptions {
  env: NodeJS.ProcessEnv;
  /** Where `.env` is written. */
  cwd: string;
  /** GitHub's web root (`https://github.com`, or GHE's); tests point it at a local fake. */
  webUrl?: string;
  /** GitHub's API root; from GHE_HOST/GHE_PROTOCOL by default. */
  apiUrl?: string;
  log?: (message: string) => void;
}

/** What `POST /app-manifests/{code}/conversions` answers with that the app keeps. */
export interface AppCredentials {
  id: number;
  slug?: string;
  html_url: string;
  pem: string;
  webhook_secret: string | null;
  client_id: string;
  client_secret: string;
}

const APP_YML = new URL("../../app.yml", import.meta.url);
const STATE_TTL_MS = 60 * 60 * 1000;

export function githubWebUrl(env: NodeJS.ProcessEnv): string {
  return `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST || "github.com"}`;
}

export function githubApiUrl(env: NodeJS.ProcessEnv): string {
  return env.GHE_HOST ? `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST}/api/v3` : "https://api.github.com";
}

/** The manifest GitHub is sent: app.yml, with the URLs only this server knows. */
export function buildManifest(baseUrl: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const manifest = parseYaml(readFileSync(APP_YML, "utf8")) as Record<string, unknown>;
  const hook = (manifest.hook_attributes ?? {}) as Record<string, unknown>;
  return {
    ...manifest,
    hook_attributes: { ...hook, url: `${baseUrl}${env.WEBHOOK_PATH || DEFAULT_WEBHOOK_PATH}` },
    redirect_url: `${baseUrl}/probot/setup`,
  };
}

const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

function registrationPage(action: string, manifest: Record<string, unknown>): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Register Clutch Luigi</title></head>
<body>
<h1>Register Clutch Luigi as a GitHub App</h1>
<p>This server has no GitHub App credentials yet. Registering creates a private app on GitHub
with the permissions listed in app.yml, then brings its credentials back here and writes them to <code>.env</code>.</p>
<form action="${escapeHtml(action)}" method="post">
<input type="hidden" name="manifest" value="${escapeHtml(JSON.stringify(manifest))}">
<button type="submit">Register GitHub App</button>
</form>
</body></html>
`;
}

/** A `.env` value: double-quoted, with the escapes dotenv expands (newlines in a PEM). */
function envValue(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n")}"`;
}

/** Merges the new app's credentials into `.env`, keeping what was there; readable by the owner only. */
export function writeCredentials(cwd: string, app: AppCredentials): string {
  const file = join(cwd, ".env");
  const existing = existsSync(file) ? dotenv.parse(readFileSync(file)) : {};
  const values: Record<string, string> = {
    ...existing,
    APP_ID: String(app.id),
    PRIVATE_KEY: app.pem,
    ...(app.webhook_secret ? { WEBHOOK_SECRET: app.webhook_secret } : {}),
    GITHUB_CLIENT_ID: app.client_id,
    GITHUB_CLIENT_SECRET: app.client_secret,
  };
  const text = Object.entries(values)
    .map(([k, v]) => `${k}=${envValue(v)}`)
    .join("\n");
  // A fresh file renamed into place: `mode` applies only to a file being created, and a
  // .env that was readable by others must not stay so once it holds a private key.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${text}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

function baseUrlOf(req: IncomingMessage): string {
  const proto = String(req.headers["x-forwarded-proto"] ?? "").split(",")[0]?.trim() || "http";
  return `${proto === "https" ? "https" : "http"}://${req.headers.host ?? "localhost"}`;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): true {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers }).end(body);
  return true;
}

export function createSetupFlow(opts: SetupFlowOptions): Middleware {
  const web = opts.webUrl ?? githubWebUrl(opts.env);
  const api = opts.apiUrl ?? githubApiUrl(opts.env);
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const states = new Map<string, number>();
  let done = false;

  const takeState = (state: string): boolean => {
    const now = Date.now();
    for (const [s, at] of states) if (now - at > STATE_TTL_MS) states.delete(s);
    for (const s of states.keys()) {
      const a = Buffer.from(s);
      const b = Buffer.from(state);
      if (a.length === b.length && timingSafeEqual(a, b)) {
        states.delete(s);
        return true;
      }
    }
    return false;
  };

  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET") return false;
    if (url.pathname === "/") return send(res, 302, "Found. Redirecting to /probot", { location: "/probot" });
    if (url.pathname === "/probot") {
      if (done) return send(res, 200, "Registered. Restart the server to load the new credentials from .env.\n");
      const state = randomBytes(16).toString("hex");
      states.set(state, Date.now());
      const org = opts.env.GH_ORG ? `/organizations/${encodeURIComponent(opts.env.GH_ORG)}` : "";
      const action = `${web}${org}/settings/apps/new?state=${state}`;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(registrationPage(action, buildManifest(baseUrlOf(req), opts.env)));
      return true;
    }
    if (url.pathname === "/probot/setup") {
      const code = url.searchParams.get("code") ?? "";
      const state = url.searchParams.get("state") ?? "";
      if (!/^[\w-]{1,200}$/.test(code)) return send(res, 400, "code missing or invalid\n");
      if (!takeState(state)) return send(res, 403, "state missing or unknown: start again from /probot\n");
      const octokit = new Octokit({ baseUrl: api, request: { timeout: 10_000 } });
      const { data } = await octokit.request("POST /app-manifests/{code}/conversions", { code });
      const file = writeCredentials(opts.cwd, data as unknown as AppCredentials);
      done = true;
      log(`GitHub App "${data.slug ?? data.name}" (id ${data.id}) registered; its credentials are in ${file}. Restart the server to use them.`);
      return send(res, 302, `Found. Redirecting to ${data.html_url}/installations/new`, { location: `${data.html_url}/installations/new` });
    }
    return false;
  };
}
