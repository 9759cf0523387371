/**
 * Calls an HTTP service with the step's identity attached as a signed JWT. Values
 * from expressions go into the JSON body, query parameters and headers as data;
 * the URL's origin is fixed by the workflow or by a named service in server config.
 */
import { configOf, redactorOf } from "../context.js";
import { ActionError, classifyError, type Action, type StepContext } from "../types.js";
import { getPointer, JSON_POINTER_PATTERN } from "./json-pointer.js";

export interface HttpRequestInput {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  /** Absolute URL. Either this or `service` + `path`. */
  url?: string;
  /** Named HTTP service from the server configuration. */
  service?: string;
  path?: string;
  headers?: Record<string, string>;
  /** Header → name of a secret in the server configuration (e.g. a third-party API key). */
  secretHeaders?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  body?: unknown;
  /** `aud` of the step token; defaults to the service's audience or the URL's origin. */
  audience?: string;
  /** Header carrying the token (default `authorization`, as `Bearer <jwt>`). */
  tokenHeader?: string;
  /** Status codes that count as success; default any 2xx. */
  expectStatus?: number[];
  /** Output name → JSON pointer into the response body. */
  outputs?: Record<string, string>;
}

export type HttpRequestOutput = { status: number } & Record<string, unknown>;

/** Response bytes read; beyond this the body is refused rather than buffered. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
const NO_CTRL = "^[^\\u0000\\r\\n]*$";
const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";
const RESERVED_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection"]);

export const httpRequest: Action<HttpRequestInput, HttpRequestOutput> = {
  name: "http.request",
  description: "Calls an HTTP endpoint with the step's identity as a signed JWT; maps response fields to outputs.",
  input: {
    type: "object",
    additionalProperties: false,
    oneOf: [{ required: ["url"], not: { anyOf: [{ required: ["service"] }, { required: ["path"] }] } }, { required: ["service", "path"], not: { required: ["url"] } }],
    properties: {
      method: { enum: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] },
      url: { type: "string", format: "uri", pattern: "^https?://" },
      service: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$" },
      path: { type: "string", pattern: "^/[^\\u0000\\r\\n#]*$" },
      headers: { type: "object", propertyNames: { pattern: HEADER_NAME }, additionalProperties: { type: "string", pattern: NO_CTRL } },
      secretHeaders: { type: "object", propertyNames: { pattern: HEADER_NAME }, additionalProperties: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$" } },
      query: { type: "object", additionalProperties: { type: ["string", "number", "boolean"] } },
      body: {},
      audience: { type: "string", minLength: 1 },
      tokenHeader: { type: "string", pattern: "^[A-Za-z0-9-]+$" },
      expectStatus: { type: "array", minItems: 1, items: { type: "integer", minimum: 100, maximum: 599 } },
      outputs: {
        type: "object",
        propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_-]*$", not: { const: "status" } },
        additionalProperties: { type: "string", pattern: JSON_POINTER_PATTERN },
      },
    },
  },
  output: { type: "object", required: ["status"], properties: { status: { type: "integer" } } },
  errorCodes: ["unexpected-status", "bad-response", "invalid-input"],
  outputNames: (input) =>
    input.outputs !== null && typeof input.outputs === "object" ? Object.keys(input.outputs as object) : [],
  run: runHttpRequest,
};

interface Target {
  url: URL;
  audience: string;
  tokenHeader: string;
}

/**
 * A path that could address another endpoint than the one the workflow wrote. A
 * substituted value such as `../admin`, `%2e%2e`, `a%2fb` or `x;jsessionid=` can be
 * resolved by URL parsing, a proxy or the service itself into a different route, so the
 * request is refused before anything is sent. Not retryable: its code is no action's
 * error class, so no `retry.on` can name it.
 */
export class UnsafePathError extends ActionError {
  constructor(readonly path: string, readonly reason: string) {
    super("unsafe-path", `path ${JSON.stringify(path)} refused: ${reason}`);
    this.name = "UnsafePathError";
  }
}

/** Refuse any segment that is `.`/`..`, holds a `\` or `;`, or an encoded `/`, `\`, `.` or `%` after one decode. */
export function checkPath(raw: string): void {
  const pathPart = raw.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/\\?#]*/i, "").split(/[?#]/)[0] ?? "";
  for (const segment of pathPart.split("/")) {
    if (segment.includes("\\")) throw new UnsafePathError(raw, "a backslash in a path segment");
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new UnsafePathError(raw, `malformed percent-encoding in segment ${JSON.stringify(segment)}`);
    }
    if (decoded === "." || decoded === "..") throw new UnsafePathError(raw, `a "${decoded}" segment`);
    if (/[/\\]/.test(decoded)) throw new UnsafePathError(raw, "an encoded slash or backslash");
    if (decoded.includes(";")) throw new UnsafePathError(raw, 'a ";" (matrix parameter) in a path segment');
    if (/%[0-9a-f]{2}/i.test(decoded)) throw new UnsafePathError(raw, "double percent-encoding");
  }
}

function resolveTarget(input: HttpRequestInput, ctx: StepContext): Target {
  if (input.service !== undefined) {
    const services = configOf(ctx).connections.http;
    const svc = Object.hasOwn(services, input.service) ? services[input.service] : undefined;
    if (!svc) throw new ActionError("invalid-input", `no HTTP service named "${input.service}" in the server configuration`);
    const base = new URL(svc.baseUrl.endsWith("/") ? svc.baseUrl : `${svc.baseUrl}/`);
    const path = input.path ?? "/";
    checkPath(path);
    const url = new URL(path.replace(/^\/+/, ""), base);
    // `..` segments or an encoded host in a substituted path must not leave the service.
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) {
      throw new ActionError("invalid-input", `path ${JSON.stringify(path)} leaves the service's base URL`);
    }
    return { url, audience: input.audience ?? svc.audience ?? base.origin, tokenHeader: input.tokenHeader ?? svc.tokenHeader ?? "authorization" };
  }
  checkPath(input.url ?? "");
  let url: URL;
  try {
    url = new URL(input.url ?? "");
  } catch {
    throw new ActionError("invalid-input", `invalid URL ${JSON.stringify(input.url)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ActionError("invalid-input", "only http and https URLs are allowed");
  return { url, audience: input.audience ?? url.origin, tokenHeader: input.tokenHeader ?? "authorization" };
}

function statusClass(status: number): string {
  if (status === 429) return "http-429";
  if (status >= 500) return "http-5xx";
  if (status >= 400) return "http-4xx";
  return "unexpected-status";
}

async function readBounded(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw new ActionError("bad-response", `response larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function runHttpRequest(input: HttpRequestInput, ctx: StepContext): Promise<HttpRequestOutput> {
  const target = resolveTarget(input, ctx);
  for (const [k, v] of Object.entries(input.query ?? {})) target.url.searchParams.append(k, String(v));
  const method = input.method ?? (input.body === undefined ? "GET" : "POST");
  const headers = new Headers();
  for (const [k, v] of Object.entries(input.headers ?? {})) {
    if (RESERVED_HEADERS.has(k.toLowerCase()) || k.toLowerCase() === target.tokenHeader.toLowerCase()) {
      throw new ActionError("invalid-input", `header ${k} is set by the action, not the workflow`);
    }
    if (/[\0\r\n]/.test(v)) throw new ActionError("invalid-input", `header ${k} contains a control character`);
    headers.set(k, v);
  }
  for (const [k, name] of Object.entries(input.secretHeaders ?? {})) {
    if (RESERVED_HEADERS.has(k.toLowerCase()) || k.toLowerCase() === target.tokenHeader.toLowerCase() || headers.has(k)) {
      throw new ActionError("invalid-input", `secret header ${k} clashes with a header the action or the workflow sets`);
    }
    // Resolved at call time and registered for redaction, like every secret a step asks for.
    const value = await ctx.secret(name);
    if (/[\0\r\n]/.test(value)) throw new ActionError("invalid-input", `secret "${name}" contains a control character and cannot be a header value`);
    headers.set(k, value);
  }
  const token = await ctx.token(target.audience);
  headers.set(target.tokenHeader, target.tokenHeader.toLowerCase() === "authorization" ? `Bearer ${token}` : token);
  headers.set("idempotency-key", ctx.identity.idempotencyKey);
  let body: string | undefined;
  if (input.body !== undefined && method !== "GET" && method !== "HEAD") {
    body = JSON.stringify(input.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  if (!headers.has("accept")) headers.set("accept", "application/json");

  const scrub = (s: string): string => redactorOf(ctx)?.redact(s) ?? s;
  // The path may carry substituted values, secrets included: scrubbed like everything else.
  const where = scrub(`${method} ${target.url.origin}${target.url.pathname}`);
  let res: Response;
  let text: string;
  try {
    res = await fetch(target.url, { method, headers, body, signal: ctx.signal, redirect: "manual" });
    text = await readBounded(res);
  } catch (e) {
    if (e instanceof ActionError) throw e;
    const cls = classifyError(e);
    if (cls === "timeout" || ctx.signal.aborted) throw new ActionError("timeout", `${where}: aborted`, { cause: e });
    throw new ActionError(cls === "error" ? "connection" : cls, `${where}: ${scrub((e as Error).message)}`, { cause: e });
  }
  const ok = input.expectStatus ? input.expectStatus.includes(res.status) : res.status >= 200 && res.status < 300;
  if (!ok) {
    throw new ActionError(statusClass(res.status), `${where} answered ${res.status}: ${scrub(text.slice(0, 500))}`);
  }
  const result: HttpRequestOutput = { status: res.status };
  const wanted = Object.entries(input.outputs ?? {});
  if (wanted.length > 0) {
    let doc: unknown;
    try {
      doc = text === "" ? null : JSON.parse(text);
    } catch {
      throw new ActionError("bad-response", `${where}: the response is not JSON, so outputs cannot be read from it`);
    }
    for (const [name, pointer] of wanted) {
      const value = getPointer(doc, pointer);
      if (value === undefined) throw new ActionError("bad-response", `${where}: the response has nothing at ${pointer} (output ${name})`);
      // A service that echoes a secret back must not turn it into a plain, stored output.
      result[name] = redactorOf(ctx)?.redactValue(value) ?? value;
    }
  }
  ctx.log.info(`${where} → ${res.status}`);
  return result;
}
