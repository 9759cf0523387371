/**
 * GitHub's own REST description (npm @octokit/openapi) as the referee for the fake:
 * every route the fake serves must exist there, and every request and response it
 * sees is validated against the operation's schemas, so the fake cannot drift from
 * the real API.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;

type Json = Record<string, unknown>;

export interface Operation {
  method: string;
  template: string;
  operationId: string;
  spec: Json;
  /** `#/paths/…/{method}` pointer for building schema refs. */
  pointer: string;
}

import { normalizeNullable } from "./openapi-nullable.js";

const SPEC_ID = "github";

function escapePointer(s: string): string {
  return s.replace(/~/g, "~0").replace(/\//g, "~1");
}

export class GitHubOpenApi {
  readonly doc: Json;
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor() {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
    this.doc = JSON.parse(readFileSync(file, "utf8")) as Json;
    // Before any validator compiles: ajv refuses GitHub's type-less `nullable` nodes.
    normalizeNullable(this.doc);
    // The document is OpenAPI, not a JSON Schema: skip meta-validation and unknown keywords.
    this.ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(this.doc, SPEC_ID);
  }

  operation(method: string, template: string): Operation {
    const item = (this.doc.paths as Record<string, Json>)[template];
    const op = item?.[method.toLowerCase()] as Json | undefined;
    if (!op) throw new Error(`GitHub's REST API has no ${method.toUpperCase()} ${template}: the fake may only serve real routes`);
    return {
      method: method.toUpperCase(),
      template,
      operationId: String(op.operationId),
      spec: op,
      pointer: `#/paths/${escapePointer(template)}/${method.toLowerCase()}`,
    };
  }

  /** Follow a local `$ref` ("#/components/…"). */
  deref<T = Json>(node: unknown): T {
    let cur = node as Json;
    for (let i = 0; i < 20 && cur && typeof cur.$ref === "string"; i++) {
      const parts = (cur.$ref as string).replace(/^#\//, "").split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
      cur = parts.reduce<unknown>((acc, p) => (acc as Json)?.[p], this.doc) as Json;
    }
    return cur as T;
  }

  private validator(ref: string): ValidateFunction {
    let v = this.validators.get(ref);
    if (!v) {
      v = this.ajv.compile({ $ref: `${SPEC_ID}${ref}` });
      this.validators.set(ref, v);
    }
    return v;
  }

  private errors(ref: string, value: unknown, label: string): string[] {
    const v = this.validator(ref);
    if (v(value)) return [];
    return (v.errors ?? []).slice(0, 10).map((e) => `${label}${e.instancePath} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`);
  }

  validateRequest(op: Operation, req: { pathParams: Record<string, string>; query: URLSearchParams; body: unknown }): string[] {
    const problems: string[] = [];
    const params = ((op.spec.parameters as unknown[]) ?? []).map((p) => this.deref<Json>(p));
    for (const p of params) {
      const name = String(p.name);
      const raw = p.in === "path" ? req.pathParams[name] : p.in === "query" ? (req.query.get(name) ?? undefined) : undefined;
      if (p.in !== "path" && p.in !== "query") continue;
      if (raw === undefined) {
        if (p.required) problems.push(`missing required ${p.in} parameter ${name}`);
        continue;
      }
      const schema = this.deref<Json>(p.schema);
      const value = schema.type === "integer" || schema.type === "number" ? Number(raw) : schema.type === "boolean" ? raw === "true" ? true : raw === "false" ? false : raw : raw;
      const v = this.ajv.compile(schema);
      if (!v(value)) problems.push(`${p.in} parameter ${name}=${JSON.stringify(raw)}: ${v.errors?.map((e) => e.message).join(", ")}`);
    }
    const known = new Set(params.filter((p) => p.in === "query").map((p) => String(p.name)));
    for (const k of req.query.keys()) if (!known.has(k)) problems.push(`unknown query parameter ${k}`);
    const rb = this.deref<Json | undefined>(op.spec.requestBody);
    const hasBody = req.body !== undefined;
    if (rb) {
      const content = rb.content as Record<string, Json> | undefined;
      if (!hasBody && rb.required) problems.push("missing required request body");
      if (hasBody && content?.["application/json"]?.schema) {
        problems.push(...this.errors(`${op.pointer}/requestBody/content/application~1json/schema`, req.body, "request body"));
      }
    } else if (hasBody && op.method !== "GET" && op.method !== "DELETE") {
      problems.push("this operation takes no request body");
    }
    return problems;
  }

  validateResponse(op: Operation, status: number, body: unknown): string[] {
    const responses = op.spec.responses as Record<string, unknown>;
    if (!responses[String(status)]) {
      // Any operation can fail with 401/403/404/5xx on the real API; those carry the basic error body.
      if (status >= 400) return this.errors("#/components/schemas/basic-error", body ?? null, `response ${status}`);
      return [`status ${status} is not a documented response of ${op.operationId}`];
    }
    const res = this.deref<Json>(responses[String(status)]);
    const content = res.content as Record<string, Json> | undefined;
    if (!content?.["application/json"]?.schema) {
      if (body === undefined) return [];
      // GitHub documents many error statuses by description only, yet always sends its basic error body.
      if (status >= 400) return this.errors("#/components/schemas/basic-error", body, `response ${status}`);
      return [`${op.operationId} ${status} has no body in GitHub's description`];
    }
    // The response may itself be a $ref to components/responses: point at the resolved node.
    const base = typeof (responses[String(status)] as Json).$ref === "string"
      ? `${(responses[String(status)] as Json).$ref as string}`
      : `${op.pointer}/responses/${status}`;
    return this.errors(`${base}/content/application~1json/schema`, body, `response ${status}`);
  }

  /**
   * A minimal valid instance of a component schema (required fields only), for the
   * fake to fill in. Override the fields that matter with `overrides`.
   */
  sample(component: string, overrides: Json = {}): Json {
    const base = this.sampleOf(this.doc.components && { $ref: `#/components/schemas/${component}` }, 0) as Json;
    return deepMerge(base, overrides);
  }

  private sampleOf(node: unknown, depth: number): unknown {
    const s = this.deref<Json>(node);
    if (!s || depth > 12) return null;
    if (Array.isArray(s.allOf)) return (s.allOf as unknown[]).reduce<Json>((acc, part) => deepMerge(acc, (this.sampleOf(part, depth + 1) as Json) ?? {}), {});
    const choices = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
    if (choices) {
      const pick = choices.map((c) => this.deref<Json>(c)).find((c) => c.type !== "null") ?? choices[0];
      return this.sampleOf(pick, depth + 1);
    }
    if (s.nullable === true) return null;
    if (Array.isArray(s.enum)) return s.enum.find((v) => v !== null) ?? null;
    const type = Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== "null") : (s.type as string | undefined);
    switch (type ?? (s.properties ? "object" : undefined)) {
      case "object": {
        const out: Json = {};
        const props = (s.properties ?? {}) as Json;
        for (const k of (s.required as string[]) ?? []) out[k] = this.sampleOf(props[k] ?? {}, depth + 1);
        return out;
      }
      case "array":
        return [];
      case "integer":
      case "number":
        return typeof s.minimum === "number" ? s.minimum : 1;
      case "boolean":
        return false;
      case "string":
        if (s.format === "date-time") return "2026-01-01T00:00:00Z";
        if (s.format === "uri" || s.format === "uri-template") return "https://api.github.com/";
        if (s.format === "email") return "octocat@github.com";
        return "x";
      default:
        return null;
    }
  }
}

function deepMerge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === "object" && !Array.isArray(v) && cur && typeof cur === "object" && !Array.isArray(cur) ? deepMerge(cur as Json, v as Json) : v;
  }
  return out;
}

let shared: GitHubOpenApi | undefined;

/** One parsed description per process: it is 13 MB. */
export function githubOpenApi(): GitHubOpenApi {
  shared ??= new GitHubOpenApi();
  return shared;
}
