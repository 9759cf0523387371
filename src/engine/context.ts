/**
 * How a worker gets a StepContext for one attempt. The real factory (signed step
 * tokens, secret resolution, redaction) lives with identity; the engine only needs
 * the shape, and a plain default so runs work before any of that is configured.
 */
import type { ActionServices, IdentityContext, StepContext, StepLogger } from "../actions/types.js";

/** Values marked secret during an attempt; the worker keeps them out of audit and errors. */
export type SecretsSeen = Set<string>;

export type StepContextFactory = (identity: IdentityContext, signal: AbortSignal, secretsSeen: SecretsSeen) => StepContext;

export interface LogLine {
  level: "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown>;
}

function redact(text: string, secrets: SecretsSeen): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("***");
  return out;
}

/**
 * A context that collects log lines in memory (never the console: a worker's stdout
 * is not a place secrets may reach) and refuses tokens and secrets.
 */
export function plainContextFactory(
  options: { lines?: LogLine[]; services?: ActionServices } = {},
): StepContextFactory {
  const lines = options.lines ?? [];
  return (identity, signal, secretsSeen) => {
    const write = (level: LogLine["level"]) => (message: string, fields?: Record<string, unknown>) => {
      lines.push({ level, message: redact(message, secretsSeen), ...(fields ? { fields } : {}) });
    };
    const log: StepLogger = { info: write("info"), warn: write("warn"), error: write("error") };
    return {
      identity,
      signal,
      log,
      async token() {
        throw new Error("no signing key configured");
      },
      async secret(name: string) {
        throw new Error(`no secret store configured (asked for "${name}")`);
      },
      markSecret(value: string) {
        secretsSeen.add(value);
      },
      services: options.services ?? {},
    };
  };
}

export { redact as redactSecrets };
