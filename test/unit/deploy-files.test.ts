/**
 * The Dockerfile and compose.yaml stay in step with package.json and the CLI, checked
 * without a container runtime: the Node version, the start command, the commands
 * compose runs, a non-root image without dev dependencies.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { engines: { node: string }; scripts: Record<string, string>; bin: Record<string, string> };
const dockerfile = readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const stages = instructions.filter((l) => l.startsWith("FROM "));
const finalStage = instructions.slice(instructions.lastIndexOf(stages.at(-1)!));

interface Service { command?: string[]; image?: string; build?: string; deploy?: { replicas?: number }; environment?: Record<string, string> }
const compose = parse(readFileSync(path.join(ROOT, "compose.yaml"), "utf8"), { merge: true }) as { services: Record<string, Service> };

describe("Dockerfile", () => {
  it("builds on the Node major that package.json's engines names", () => {
    const min = /^>=(\d+)/.exec(pkg.engines.node)![1];
    for (const from of stages) expect(from).toMatch(new RegExp(`^FROM node:${min}[-.]`));
  });

  it("is multi-stage, and the image installs production dependencies only", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(finalStage.some((l) => /^RUN npm ci\b.*--omit=dev/.test(l))).toBe(true);
    expect(finalStage.some((l) => /COPY --from=build .*dist/.test(l))).toBe(true);
  });

  it("runs as a user that is not root", () => {
    const user = finalStage.filter((l) => l.startsWith("USER ")).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)(:|$)/);
  });

  it("starts what `npm start` starts", () => {
    const cmd = finalStage.find((l) => l.startsWith("CMD "))!;
    expect((JSON.parse(cmd.slice(4)) as string[]).join(" ")).toBe(pkg.scripts.start);
  });
});

describe("compose.yaml", () => {
  it("has Postgres, a migration step, two app replicas and two workers", () => {
    const s = compose.services;
    expect(s.postgres?.image).toMatch(/^postgres:\d+/);
    expect(s.app?.deploy?.replicas).toBe(2);
    expect(s.worker?.deploy?.replicas).toBe(2);
    expect(s.app?.environment?.CLUTCH_LUIGI_WORKERS).toBe("0");
    expect(s.migrate?.command).toEqual(["node", pkg.bin["clutch-luigi"], "migrate"]);
  });

  it("gives every app and worker process the same shared keys and a real database", () => {
    for (const name of ["app", "worker"]) {
      const env = compose.services[name]!.environment!;
      for (const key of ["DATABASE_URL", "CLUTCH_LUIGI_SIGNING_KEY", "CLUTCH_LUIGI_ENCRYPTION_KEY"]) expect(env[key], `${name}.${key}`).toBeTruthy();
    }
  });

  it("runs only commands that exist: the start script and CLI subcommands", async () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!svc.command) continue;
      const [node, entry, sub] = svc.command;
      expect(node).toBe("node");
      if (entry === pkg.bin["clutch-luigi"]) {
        let out = "";
        const code = await main([sub!, "--help"], { stdout: { write: (c: string) => (out += c) }, stderr: { write: () => true }, cwd: ROOT, env: {} });
        expect(code, `${name}: clutch-luigi ${sub}`).toBe(0);
        expect(out).toMatch(new RegExp(`^Usage: clutch-luigi ${sub}`));
      } else {
        expect(`node ${entry}`, name).toBe(pkg.scripts.start);
      }
      expect(existsSync(path.join(ROOT, entry!.replace(/^dist\//, "src/").replace(/\.js$/, ".ts"))), `${name}: ${entry} is built from src/`).toBe(true);
    }
  });
});

describe(".env.example", () => {
  /** Read by `clutch-luigi run` to name the local requester, not server settings. */
  const LOCAL_IDENTITY = ["USER", "USERNAME", "GITHUB_ACTOR"];

  function envRead(dir: string): Set<string> {
    const names = new Set<string>();
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) envRead(full).forEach((n) => names.add(n));
      else if (entry.name.endsWith(".ts")) for (const m of readFileSync(full, "utf8").matchAll(/\benv\.([A-Z][A-Z0-9_]{2,})\b/g)) names.add(m[1]!);
    }
    return names;
  }

  it("lists every variable the server reads, each under a comment", () => {
    const text = readFileSync(path.join(ROOT, ".env.example"), "utf8");
    const lines = text.split("\n");
    const listed = new Map(lines.flatMap((l, i) => (/^([A-Z][A-Z0-9_]*)=/.exec(l) ? [[/^([A-Z][A-Z0-9_]*)=/.exec(l)![1]!, i] as const] : [])));
    const missing = [...envRead(path.join(ROOT, "src"))].filter((n) => !LOCAL_IDENTITY.includes(n) && !listed.has(n));
    expect(missing).toEqual([]);
    for (const [name, i] of listed) {
      let j = i - 1;
      while (j >= 0 && /^[A-Z]/.test(lines[j]!)) j--;
      expect(lines[j], `${name} has a comment above it`).toMatch(/^# \S/);
    }
  });

  it("is the example, and .env itself is never committed", () => {
    const ignored = readFileSync(path.join(ROOT, ".gitignore"), "utf8").split("\n");
    expect(ignored).toContain(".env");
    expect(ignored).not.toContain(".env.example");
  });
});
