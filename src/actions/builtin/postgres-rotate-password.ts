import { escapeIdentifier, escapeLiteral } from "pg";
import { ActionError, type Action } from "../types.js";
import { CONNECTION_NAME_PATTERN, withConnection } from "./postgres-connection.js";
import { scramSha256Verifier } from "./scram.js";

export interface RotatePasswordInput {
  connection: string;
  role: string;
  password: string;
  /** Also set VALID UNTIL (RFC 3339). */
  validUntil?: string;
}

export const ROLE_PATTERN = "^[A-Za-z_][A-Za-z0-9_$-]{0,62}$";

export const postgresRotatePassword: Action<RotatePasswordInput, { role: string; rotatedAt: string }> = {
  name: "postgres.rotate-password",
  description: "Sets a Postgres role's password (sent as a SCRAM verifier, never in plaintext) on a named connection.",
  input: {
    type: "object",
    additionalProperties: false,
    required: ["connection", "role", "password"],
    properties: {
      connection: { type: "string", pattern: CONNECTION_NAME_PATTERN },
      role: { type: "string", pattern: ROLE_PATTERN },
      password: { type: "string", minLength: 12, maxLength: 1024, pattern: "^[^\\u0000]*$" },
      validUntil: { type: "string", format: "date-time" },
    },
  },
  output: {
    type: "object",
    additionalProperties: false,
    required: ["role", "rotatedAt"],
    properties: { role: { type: "string" }, rotatedAt: { type: "string" } },
  },
  errorCodes: ["invalid-input", "role-missing", "postgres-error"],
  async run(input, ctx) {
    ctx.markSecret(input.password);
    // lint-regex: allow — ROLE_PATTERN is a constant of this file, bounded and anchored
    if (!new RegExp(ROLE_PATTERN).test(input.role)) throw new ActionError("invalid-input", "role name is not a plain identifier");
    if (input.password.includes("\0") || input.password.length < 12) throw new ActionError("invalid-input", "password must be at least 12 characters without NUL bytes");
    return withConnection(ctx, input.connection, async (client) => {
      const exists = await client.query("select 1 from pg_roles where rolname = $1", [input.role]);
      if (exists.rowCount === 0) throw new ActionError("role-missing", `role ${input.role} does not exist on "${input.connection}"`);
      // ALTER ROLE is a utility statement: Postgres accepts no bind parameters in it.
      // The role goes through escapeIdentifier; the password never appears at all —
      // only its SCRAM verifier, whose alphabet (base64, digits, `$:`) is passed
      // through escapeLiteral on top, so nothing a request supplies reaches SQL text
      // as anything but a quoted literal.
      const verifier = scramSha256Verifier(input.password);
      let sql = `ALTER ROLE ${escapeIdentifier(input.role)} WITH PASSWORD ${escapeLiteral(verifier)}`;
      if (input.validUntil) {
        const t = new Date(input.validUntil);
        if (Number.isNaN(t.getTime())) throw new ActionError("invalid-input", "validUntil is not a date-time");
        sql += ` VALID UNTIL ${escapeLiteral(t.toISOString())}`;
      }
      await client.query(sql);
      ctx.log.info(`rotated the password of role ${input.role} on "${input.connection}"`);
      return { role: input.role, rotatedAt: new Date().toISOString() };
    });
  },
};
