/**
 * A step's outputs at rest: plain ones as jsonb, secret ones sealed with the
 * deployment's key (or, without a key, not stored at all: only their names, so a
 * later step that reads one is told why it is missing).
 */
import type { Knex } from "knex";
import type { Outputs } from "../engine/scope.js";
import type { OutputCipher } from "./cipher.js";
import { rowsOf } from "./db.js";

/** `secret_outputs` of a step whose secrets were dropped for want of a key: the names only. */
const WITHHELD = "withheld:";

export function sealOutputs(
  cipher: OutputCipher | null,
  outputs: Record<string, unknown>,
  secretNames: readonly string[],
): { plain: Record<string, unknown>; sealed: string | null } {
  const plain: Record<string, unknown> = {};
  const secret: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(outputs)) (secretNames.includes(k) ? secret : plain)[k] = v;
  if (Object.keys(secret).length === 0) return { plain, sealed: null };
  return { plain, sealed: cipher ? cipher.encrypt(JSON.stringify(secret)) : WITHHELD + JSON.stringify(Object.keys(secret)) };
}

export async function loadOutputs(
  db: Knex,
  cipher: OutputCipher | null,
  runId: string,
  stepIds: string[],
  secretsSeen?: Set<string>,
): Promise<Outputs> {
  const rows = rowsOf<{ step_id: string; outputs: Record<string, unknown> | null; secret_outputs: string | null }>(
    await db.raw("select step_id, outputs, secret_outputs from steps where run_id = ? and step_id = any(?)", [runId, stepIds]),
  );
  const out: Outputs = {};
  for (const r of rows) {
    const values: Record<string, unknown> = { ...(r.outputs ?? {}) };
    if (r.secret_outputs?.startsWith(WITHHELD)) {
      // Reading one of these is the error, not loading the step: its plain outputs stay usable.
      for (const name of JSON.parse(r.secret_outputs.slice(WITHHELD.length)) as string[]) {
        Object.defineProperty(values, name, {
          enumerable: true,
          get() {
            throw new Error(`output "${name}" of step "${r.step_id}" is secret and was not stored: no encryption key was configured when it ran (set CLUTCH_LUIGI_ENCRYPTION_KEY)`);
          },
        });
      }
    } else if (r.secret_outputs) {
      if (!cipher) throw new Error(`step "${r.step_id}" has encrypted outputs but no encryption key is configured (set CLUTCH_LUIGI_ENCRYPTION_KEY)`);
      let secret: Record<string, unknown>;
      try {
        secret = JSON.parse(cipher.decrypt(r.secret_outputs)) as Record<string, unknown>;
      } catch {
        throw new Error(`step "${r.step_id}" has encrypted outputs that the configured key cannot open (was CLUTCH_LUIGI_ENCRYPTION_KEY changed?)`);
      }
      for (const v of Object.values(secret)) if (typeof v === "string" && v !== "") secretsSeen?.add(v);
      Object.assign(values, secret);
    }
    out[r.step_id] = values;
  }
  return out;
}
