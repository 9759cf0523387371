/**
 * Secrets are referenced by name; their values are read from the environment or a
 * file at the moment a step asks, so they never sit in git or in the database, and a
 * changed file or variable takes effect on the next step. Every value handed out is
 * registered with a Redactor (kept per run in the worker's memory, for redaction
 * only) so the step's logs and outputs can be scrubbed.
 */
import { readFile } from "node:fs/promises";
import type { SecretSource } from "../server-config/types.js";
import { ActionError } from "./types.js";

export class SecretResolver {
  constructor(
    private readonly sources: Record<string, SecretSource>,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  has(name: string): boolean {
    return Object.hasOwn(this.sources, name);
  }

  async resolve(name: string): Promise<string> {
    const source = Object.hasOwn(this.sources, name) ? this.sources[name] : undefined;
    if (!source) throw new ActionError("secret-unknown", `no secret named "${name}" in the server configuration`);
    if ("env" in source) {
      const value = this.env[source.env];
      if (value === undefined || value === "") {
        throw new ActionError("secret-missing", `secret "${name}": environment variable ${source.env} is not set`);
      }
      return value;
    }
    let text: string;
    try {
      text = await readFile(source.file, "utf8");
    } catch (e) {
      throw new ActionError("secret-missing", `secret "${name}": cannot read ${source.file} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
    }
    // Files written by editors and `echo` end in a newline that is not part of the secret.
    const value = text.replace(/\r?\n$/, "");
    if (value === "") throw new ActionError("secret-missing", `secret "${name}": ${source.file} is empty`);
    return value;
  }
}

export const REDACTED = "[REDACTED]";

/**
 * Replaces every registered value, and the encodings it is likely to reappear in
 * (JSON-escaped, URL-encoded, base64), with [REDACTED].
 */
export class Redactor {
  private readonly needles = new Set<string>();
  private sorted: string[] | undefined;
  /** The values as registered (without their encodings). */
  readonly values = new Set<string>();

  add(value: string): void {
    if (typeof value !== "string" || value.length === 0) return;
    this.values.add(value);
    const forms = [
      value,
      JSON.stringify(value).slice(1, -1),
      encodeURIComponent(value),
      Buffer.from(value).toString("base64"),
      Buffer.from(value).toString("base64url"),
    ];
    for (const f of forms) if (f.length > 0) this.needles.add(f);
    this.sorted = undefined;
  }

  get size(): number {
    return this.needles.size;
  }

  private readonly followed = new Map<Set<string>, number>();

  /** Also redact whatever values are, or are later, put into `set` (the engine's per-attempt set). */
  follow(set: Set<string>): void {
    if (!this.followed.has(set)) this.followed.set(set, -1);
  }

  private absorb(): void {
    for (const [set, seen] of this.followed) {
      if (set.size === seen) continue;
      for (const v of set) if (!this.values.has(v)) this.add(v);
      this.followed.set(set, set.size);
    }
  }

  redact(text: string): string {
    this.absorb();
    if (this.needles.size === 0 || text.length === 0) return text;
    // Longest first, so a secret that contains another is removed whole.
    this.sorted ??= [...this.needles].sort((a, b) => b.length - a.length);
    let out = text;
    for (const n of this.sorted) if (out.includes(n)) out = out.split(n).join(REDACTED);
    return out;
  }

  /** Deep copy with every string redacted (keys too: a secret can be a map key). */
  redactValue<T>(value: T): T {
    if (typeof value === "string") return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v)) as T;
    if (value && typeof value === "object" && !(value instanceof Date)) {
      if (value instanceof Error) return this.redact(`${value.name}: ${value.message}`) as T;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[this.redact(k)] = this.redactValue(v);
      return out as T;
    }
    return value;
  }
}
