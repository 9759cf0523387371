import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse as parseYaml } from "yaml";
import { serverConfigSchema } from "./schema.js";
import { EnvRefError, substituteEnvRefs } from "./env-refs.js";
import { GITHUB_ACTIONS_ISSUER, type ServerConfig } from "./types.js";

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

// Values arrive as strings from `${ENV:…}`, so ports and counts are coerced.
const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: true, useDefaults: true });
addFormats(ajv);
const validate = ajv.compile(serverConfigSchema);

export class ServerConfigError extends Error {
  constructor(readonly problems: string[], source: string) {
    super(`invalid server configuration ${source}:\n  ${problems.join("\n  ")}`);
    this.name = "ServerConfigError";
  }
}

export interface LoadServerConfigOptions {
  /** Defaults to env.CLUTCH_LUIGI_CONFIG. */
  path?: string;
  env?: Record<string, string | undefined>;
}

/**
 * Read and validate the server configuration. No file named (or a named file that
 * does not exist while CLUTCH_LUIGI_CONFIG is unset) yields the empty local config.
 */
export async function loadServerConfig(options: LoadServerConfigOptions = {}): Promise<ServerConfig> {
  const env = options.env ?? process.env;
  const path = options.path ?? env.CLUTCH_LUIGI_CONFIG;
  if (!path) return buildServerConfig({}, env);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && options.path === undefined && env.CLUTCH_LUIGI_CONFIG === undefined) return buildServerConfig({}, env);
    throw new ServerConfigError([code === "ENOENT" ? "file not found" : (e as Error).message], path);
  }
  return parseServerConfig(text, path, env);
}

/** Parse configuration text (YAML or JSON). `source` names it in errors. */
export function parseServerConfig(text: string, source: string, env: Record<string, string | undefined> = process.env): ServerConfig {
  let doc: unknown;
  try {
    // Aliases are bounded so a hostile or broken file cannot expand without limit.
    doc = parseYaml(text, { maxAliasCount: 100, prettyErrors: true }) ?? {};
  } catch (e) {
    throw new ServerConfigError([`YAML: ${(e as Error).message}`], source);
  }
  if (typeof doc !== "object" || Array.isArray(doc) || doc === null) throw new ServerConfigError(["the document must be a mapping"], source);
  return buildServerConfig(doc as Record<string, unknown>, env, source);
}

function buildServerConfig(doc: Record<string, unknown>, env: Record<string, string | undefined>, source?: string): ServerConfig {
  const where = source ?? "(defaults)";
  let data: Record<string, unknown>;
  try {
    data = substituteEnvRefs(doc, env) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof EnvRefError) throw new ServerConfigError([e.message], where);
    throw e;
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message}${e.params && "additionalProperty" in e.params ? ` "${String(e.params.additionalProperty)}"` : ""}`);
    throw new ServerConfigError(problems, where);
  }
  const d = data as Partial<ServerConfig> & { signing?: Partial<ServerConfig["signing"]> };
  const config: ServerConfig = {
    source,
    dataDir: resolve(d.dataDir ?? env.CLUTCH_LUIGI_DATA_DIR ?? ".clutch-luigi"),
    connections: { postgres: d.connections?.postgres ?? {}, http: d.connections?.http ?? {} },
    secrets: d.secrets ?? {},
    shell: { allow: d.shell?.allow ?? {} },
    oidc: { issuers: d.oidc?.issuers ?? [] },
    signing: {
      issuer: d.signing?.issuer ?? env.CLUTCH_LUIGI_PUBLIC_URL ?? `http://localhost:${env.PORT ?? "3000"}`,
      ...(d.signing?.keyFile ? { keyFile: d.signing.keyFile } : {}),
      ...(d.signing?.algorithm ? { algorithm: d.signing.algorithm } : {}),
    },
    ...(d.github ? { github: { tokenSecret: d.github.tokenSecret, apiUrl: (d.github.apiUrl ?? "https://api.github.com").replace(/(?<!\/)\/+$/, "") } } : {}),
    worker: { concurrency: d.worker?.concurrency ?? 4 },
    api: { operators: d.api?.operators ?? [] },
  };
  const problems = semanticProblems(config);
  if (problems.length) throw new ServerConfigError(problems, where);
  return config;
}

/** Rules a schema cannot say: cross-references and the GitHub Actions guard. */
function semanticProblems(config: ServerConfig): string[] {
  const problems: string[] = [];
  for (const [name, c] of Object.entries(config.connections.postgres)) {
    if (c.passwordSecret && !config.secrets[c.passwordSecret]) {
      problems.push(`/connections/postgres/${name}/passwordSecret: no secret named "${c.passwordSecret}" in /secrets`);
    }
  }
  if (config.github) {
    if (!config.secrets[config.github.tokenSecret]) problems.push(`/github/tokenSecret: no secret named "${config.github.tokenSecret}" in /secrets`);
    // The token travels with every call.
    if (!isHttpsOrLoopback(config.github.apiUrl)) problems.push("/github/apiUrl: must be https (plain http only for localhost)");
  }
  for (const [name, s] of Object.entries(config.shell.allow)) {
    if (!isAbsolute(s.path)) problems.push(`/shell/allow/${name}/path: must be an absolute path`);
  }
  config.oidc.issuers.forEach((iss, i) => {
    // Anyone can mint a GitHub Actions token from their own repository: without a
    // repository allow-list every public workflow on GitHub would be a trusted caller.
    if (iss.issuer === GITHUB_ACTIONS_ISSUER && !iss.repositories?.length) {
      problems.push(`/oidc/issuers/${i}/repositories: required for ${GITHUB_ACTIONS_ISSUER}`);
    }
  });
  config.oidc.issuers.forEach((iss, i) => {
    // Keys fetched over plain http could be swapped in transit, and with them every identity.
    if (!isHttpsOrLoopback(iss.jwksUrl)) problems.push(`/oidc/issuers/${i}/jwksUrl: must be https (plain http only for localhost)`);
  });
  const seen = new Set<string>();
  config.oidc.issuers.forEach((iss, i) => {
    const key = `${iss.issuer} ${iss.audience}`;
    if (seen.has(key)) problems.push(`/oidc/issuers/${i}: issuer ${iss.issuer} with audience ${iss.audience} is listed twice`);
    seen.add(key);
  });
  return problems;
}

function isHttpsOrLoopback(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === "https:" || ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
  } catch {
    return false;
  }
}
