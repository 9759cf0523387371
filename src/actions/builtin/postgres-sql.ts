import type pg from "pg";
import type { Action } from "../types.js";
import { CONNECTION_NAME_PATTERN, withConnection } from "./postgres-connection.js";

export interface PostgresSqlInput {
  connection: string;
  /** One statement, from the workflow definition. Values go in `params` as $1, $2, … */
  sql: string;
  params?: (string | number | boolean | null)[];
  /** Run in a READ ONLY transaction. */
  readOnly?: boolean;
  /** Rows returned as output (default 100); the rest are counted. */
  maxRows?: number;
}

export interface PostgresSqlOutput {
  rowCount: number;
  rows: Record<string, unknown>[];
}

export const postgresSql: Action<PostgresSqlInput, PostgresSqlOutput> = {
  name: "postgres.sql",
  description: "Runs one parameterized SQL statement in a transaction on a named connection. Values only as $n parameters.",
  input: {
    type: "object",
    additionalProperties: false,
    required: ["connection", "sql"],
    properties: {
      connection: { type: "string", pattern: CONNECTION_NAME_PATTERN },
      sql: {
        type: "string",
        minLength: 1,
        maxLength: 100_000,
        // The statement must be fixed text: an expression in it would splice data into SQL.
        not: { pattern: "\\$\\{\\{" },
      },
      params: { type: "array", maxItems: 1000, items: { type: ["string", "number", "boolean", "null"] } },
      readOnly: { type: "boolean" },
      maxRows: { type: "integer", minimum: 0, maximum: 10_000 },
    },
  },
  output: {
    type: "object",
    required: ["rowCount", "rows"],
    properties: { rowCount: { type: "integer" }, rows: { type: "array", items: { type: "object" } } },
  },
  errorCodes: ["invalid-input", "postgres-error"],
  async run(input, ctx) {
    return withConnection(ctx, input.connection, async (client) => {
      await client.query(input.readOnly ? "BEGIN READ ONLY" : "BEGIN");
      try {
        // Always the extended protocol (pg would use the simple one without params): it
        // accepts exactly one statement, so text after a `;` cannot ride along.
        const query = { text: input.sql, values: input.params ?? [], queryMode: "extended" };
        const res = await client.query(query as pg.QueryConfig);
        await client.query("COMMIT");
        const rows = (res.rows ?? []) as Record<string, unknown>[];
        return { rowCount: res.rowCount ?? rows.length, rows: rows.slice(0, input.maxRows ?? 100) };
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      }
    });
  },
};
