/**
 * `npm start` with no credentials: the registration page built from app.yml, GitHub's
 * redirect back with a code, the manifest conversion (against the OpenAPI-checked local
 * GitHub) and the new app's credentials in `.env`.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import dotenv from "dotenv";
import { parse as parseYaml } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSetupFlow } from "../../../src/server/setup-flow.js";
import { FakeGitHub } from "../../support/github/server.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const appYml = parseYaml(readFileSync(path.join(ROOT, "app.yml"), "utf8")) as { default_events: string[]; default_permissions: Record<string, string> };

describe("the GitHub App setup flow", () => {
  let github: FakeGitHub;
  let server: Server;
  let base: string;
  let cwd: string;
  const conversions: string[] = [];
  const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();

  beforeEach(async () => {
    conversions.length = 0;
    cwd = mkdtempSync(path.join(tmpdir(), "cl-setup-"));
    github = await new FakeGitHub().start();
    github.route("POST /app-manifests/{code}/conversions", ({ params }) => {
      conversions.push(params.code!);
      return {
        status: 201,
        body: github.api.sample("integration", {
          id: 424242,
          node_id: "A_kwHOAAAB",
          owner: github.api.sample("simple-user", { login: "acme" }),
          description: "Pull requests as the approval record of privileged operations",
          external_url: "https://github.com/apps/clutch-luigi",
          created_at: "2026-12-02T06:00:00Z",
          updated_at: "2026-12-02T06:00:00Z",
          permissions: appYml.default_permissions,
          events: appYml.default_events,
          slug: "clutch-luigi-acme",
          name: "Clutch Luigi",
          html_url: "https://github.com/apps/clutch-luigi-acme",
          client_id: "Iv1.0123456789abcdef",
          client_secret: "cs_0123456789",
          webhook_secret: "whsec_fresh",
          pem,
        }),
      };
    });
    const flow = createSetupFlow({ env: {}, cwd, webUrl: "https://github.example", apiUrl: github.url, log: () => undefined });
    server = createServer((req, res) => {
      void flow(req, res).then((answered) => {
        if (!answered) res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await github.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  async function page(): Promise<{ action: URL; manifest: Record<string, unknown> }> {
    const res = await fetch(`${base}/probot`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const action = /<form action="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, "&");
    const value = /name="manifest" value="([^"]+)"/.exec(html)![1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    return { action: new URL(action), manifest: JSON.parse(value) as Record<string, unknown> };
  }

  it("redirects / to the registration page", async () => {
    const res = await fetch(`${base}/`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/probot");
  });

  it("serves a form that posts app.yml's manifest, with this server's webhook and redirect URLs, to GitHub", async () => {
    const { action, manifest } = await page();
    expect(`${action.origin}${action.pathname}`).toBe("https://github.example/settings/apps/new");
    expect(action.searchParams.get("state")).toMatch(/^[0-9a-f]{32}$/);
    expect(manifest.default_events).toEqual(appYml.default_events);
    expect(manifest.default_permissions).toEqual(appYml.default_permissions);
    expect(manifest.hook_attributes).toMatchObject({ url: `${base}/api/github/webhooks` });
    expect(manifest.redirect_url).toBe(`${base}/probot/setup`);
  });

  it("exchanges GitHub's code for the new app and writes its credentials to .env, owner-only", async () => {
    writeFileSync(path.join(cwd, ".env"), "DATABASE_URL=postgres://kept@db/x\n");
    const { action } = await page();
    const res = await fetch(`${base}/probot/setup?code=abc123&state=${action.searchParams.get("state")}`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://github.com/apps/clutch-luigi-acme/installations/new");
    expect(conversions).toEqual(["abc123"]);
    expect(github.violations).toEqual([]);
    const file = path.join(cwd, ".env");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const env = dotenv.parse(readFileSync(file));
    expect(env).toEqual({
      DATABASE_URL: "postgres://kept@db/x",
      APP_ID: "424242",
      PRIVATE_KEY: pem,
      WEBHOOK_SECRET: "whsec_fresh",
      GITHUB_CLIENT_ID: "Iv1.0123456789abcdef",
      GITHUB_CLIENT_SECRET: "cs_0123456789",
    });
  });

  it("refuses a code that comes without the state this server handed out, and a replayed state", async () => {
    const forged = await fetch(`${base}/probot/setup?code=abc123&state=${"0".repeat(32)}`, { redirect: "manual" });
    expect(forged.status).toBe(403);
    const none = await fetch(`${base}/probot/setup?code=abc123`, { redirect: "manual" });
    expect(none.status).toBe(403);
    const { action } = await page();
    const state = action.searchParams.get("state");
    expect((await fetch(`${base}/probot/setup?code=first&state=${state}`, { redirect: "manual" })).status).toBe(302);
    expect((await fetch(`${base}/probot/setup?code=second&state=${state}`, { redirect: "manual" })).status).toBe(403);
    expect(conversions).toEqual(["first"]);
  });

  it("refuses a malformed code without calling GitHub", async () => {
    const { action } = await page();
    const res = await fetch(`${base}/probot/setup?code=${encodeURIComponent("../../x?y")}&state=${action.searchParams.get("state")}`, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(conversions).toEqual([]);
  });
});

describe("npm start with no APP_ID", () => {
  it("serves the registration page, as a Probot app does, instead of answering 404", async () => {
    const { spawn } = await import("node:child_process");
    const cwd = mkdtempSync(path.join(tmpdir(), "cl-start-"));
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    // tsx by absolute path: the server runs in a folder of its own, where no node_modules is.
    const tsx = pathToFileURL(path.join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
    const child = spawn(process.execPath, ["--import", tsx, path.join(ROOT, "src/server/start.ts")], {
      cwd,
      env: { PATH: process.env.PATH, PORT: String(port), HOST: "127.0.0.1", CLUTCH_LUIGI_DATA_DIR: path.join(cwd, "data"), LOG_LEVEL: "fatal" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!/listening on/.test(stderr)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(stderr).toMatch(/open this server's \/ to register a GitHub App/);
      const root = await fetch(`http://127.0.0.1:${port}/`, { redirect: "manual" });
      expect(root.status).toBe(302);
      const page = await fetch(`http://127.0.0.1:${port}/probot`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain("Register GitHub App");
      expect(html).toContain(`action="https://github.com/settings/apps/new?state=`);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
