import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadServerConfig, parseServerConfig, ServerConfigError } from "../../../src/server-config/index.js";

const dir = join(import.meta.dirname, "../../fixtures/actions/config");
const fullEnv = { DATA_DIR: "/var/lib/clutch", ORDERS_HOST: "db.internal", ORDERS_PORT: "6432", WORKERS: "8" };

async function problemsOf(file: string, env: Record<string, string> = {}): Promise<string[]> {
  try {
    await loadServerConfig({ path: join(dir, file), env });
  } catch (e) {
    expect(e).toBeInstanceOf(ServerConfigError);
    return (e as ServerConfigError).problems;
  }
  throw new Error(`${file} was accepted`);
}

describe("loadServerConfig", () => {
  it("reads a full file, replacing ${ENV:…} and coercing numbers", async () => {
    const c = await loadServerConfig({ path: join(dir, "full.yaml"), env: fullEnv });
    expect(c.dataDir).toBe("/var/lib/clutch");
    expect(c.connections.postgres.orders).toEqual({
      host: "db.internal", port: 6432, database: "orders", user: "clutch_admin", passwordSecret: "orders-admin",
    });
    expect(c.connections.http.billing?.audience).toBe("billing-api");
    expect(c.secrets["orders-admin"]).toEqual({ env: "ORDERS_ADMIN_PASSWORD" });
    expect(c.shell.allow.kubectl?.env).toEqual({ KUBECONFIG: "/etc/clutch-luigi/kubeconfig" });
    expect(c.oidc.issuers.map((i) => i.issuer)).toEqual(["https://token.actions.githubusercontent.com", "https://sso.example.com"]);
    expect(c.signing).toEqual({ issuer: "https://clutch-luigi.example.com", algorithm: "EdDSA" });
    expect(c.worker.concurrency).toBe(8);
  });

  it("without a file gives the empty local configuration, data dir from the environment", async () => {
    const c = await loadServerConfig({ env: { CLUTCH_LUIGI_DATA_DIR: "/tmp/cl-data", PORT: "4000" } });
    expect(c.source).toBeUndefined();
    expect(c.dataDir).toBe("/tmp/cl-data");
    expect(c.connections.postgres).toEqual({});
    expect(c.shell.allow).toEqual({});
    expect(c.signing.issuer).toBe("http://localhost:4000");
    expect(c.worker.concurrency).toBe(4);
  });

  it("reads the file named by CLUTCH_LUIGI_CONFIG, and a named file that is missing is an error", async () => {
    const c = await loadServerConfig({ env: { ...fullEnv, CLUTCH_LUIGI_CONFIG: join(dir, "full.yaml") } });
    expect(c.source).toBe(join(dir, "full.yaml"));
    await expect(loadServerConfig({ env: { CLUTCH_LUIGI_CONFIG: join(dir, "absent.yaml") } })).rejects.toThrow(/absent\.yaml:\s+file not found/);
  });

  it("names an unset environment variable and where it was referenced", async () => {
    const problems = await problemsOf("full.yaml", { DATA_DIR: "/x", ORDERS_HOST: "db", WORKERS: "2" });
    expect(problems).toEqual(["/connections/postgres/orders/port: environment variable ORDERS_PORT is not set"]);
  });

  it("refuses an inline secret value", async () => {
    const problems = await problemsOf("inline-secret.yaml");
    expect(problems.join("\n")).toMatch(/\/secrets\/db-password/);
  });

  it("refuses a connection whose passwordSecret names no secret", async () => {
    expect(await problemsOf("dangling-secret.yaml")).toEqual(['/connections/postgres/orders/passwordSecret: no secret named "nope" in /secrets']);
  });

  it("refuses GitHub Actions as an issuer without a repository allow-list", async () => {
    expect(await problemsOf("github-any-repo.yaml")).toEqual(["/oidc/issuers/0/repositories: required for https://token.actions.githubusercontent.com"]);
  });

  it("refuses an issuer whose keys would come over plain http from another host", async () => {
    expect(await problemsOf("plain-http-jwks.yaml")).toEqual(["/oidc/issuers/0/jwksUrl: must be https (plain http only for localhost)"]);
  });

  it("takes a GitHub token secret and API root, and checks both", () => {
    const ok = parseServerConfig("secrets:\n  gh: { env: GH_TOKEN }\ngithub: { tokenSecret: gh, apiUrl: https://ghe.example.com/api/v3/ }\n", "c.yaml", {});
    expect(ok.github).toEqual({ tokenSecret: "gh", apiUrl: "https://ghe.example.com/api/v3" });
    expect(parseServerConfig("secrets:\n  gh: { env: GH_TOKEN }\ngithub: { tokenSecret: gh }\n", "c.yaml", {}).github?.apiUrl).toBe("https://api.github.com");
    let problems: string[] = [];
    try {
      parseServerConfig("github: { tokenSecret: nope, apiUrl: http://ghe.example.com/api/v3 }\n", "c.yaml", {});
    } catch (e) {
      problems = (e as ServerConfigError).problems;
    }
    expect(problems).toEqual(['/github/tokenSecret: no secret named "nope" in /secrets', "/github/apiUrl: must be https (plain http only for localhost)"]);
  });

  it("reports every type problem in one pass", async () => {
    const problems = await problemsOf("bad-types.yaml");
    expect(problems.some((p) => p.startsWith("/connections/postgres/orders/port"))).toBe(true);
    expect(problems.some((p) => p.startsWith("/shell/allow/kubectl/path"))).toBe(true);
    expect(problems.some((p) => p.startsWith("/worker/concurrency"))).toBe(true);
  });

  it("reports broken YAML with the file name, not a stack trace", async () => {
    const problems = await problemsOf("broken.yaml");
    expect(problems[0]).toMatch(/^YAML: /);
  });

  it("bounds alias expansion", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 150 }, (_, i) => `k${i}: *a`)].join("\n");
    let error: unknown;
    try {
      parseServerConfig(bomb, "bomb.yaml", {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServerConfigError);
    expect((error as ServerConfigError).problems[0]).toMatch(/^YAML: .*alias/i);
  });
});
