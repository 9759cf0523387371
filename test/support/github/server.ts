/**
 * A local HTTP server playing GitHub's REST API on 127.0.0.1. Routes are added by
 * feature modules (teams.ts, actions.ts, …) with the exact path template from
 * GitHub's description; the server validates each request and response against
 * that description and records any mismatch as a violation tests assert is empty.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { performance } from "node:perf_hooks";
import type { AddressInfo } from "node:net";
import { githubOpenApi, type GitHubOpenApi, type Operation } from "./openapi.js";

export interface FakeRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  headers: IncomingHttpHeaders;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type RouteHandler = (req: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface RecordedCall {
  method: string;
  template: string;
  operationId: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  status: number;
  /** The Authorization header the client sent (tests check which credential was used). */
  authorization?: string;
  /**
   * Whether GitHub would count the call against the installation's rate limit:
   * every call but a conditional GET answered 304 Not Modified.
   */
  counted: boolean;
  /** performance.now() when the fake received the call (benchmarks time when a check became visible). */
  at: number;
  /** Milliseconds the fake spent answering (routing, its own OpenAPI checks, the handler). */
  ms: number;
}

/** GitHub's weak ETag of a response body: any change to the JSON changes it. */
export function etagOf(body: unknown): string {
  return `W/"${createHash("sha1").update(JSON.stringify(body)).digest("hex")}"`;
}

interface Route {
  op: Operation;
  regex: RegExp;
  names: string[];
  handler: RouteHandler;
}

export class FakeGitHub {
  readonly api: GitHubOpenApi = githubOpenApi();
  readonly calls: RecordedCall[] = [];
  readonly violations: string[] = [];
  /** Fail the next N matching calls with this status (GitHub outages, rate limits). */
  readonly faults: { template: string; method: string; status: number; times: number; headers?: Record<string, string>; message?: string; afterWrite?: boolean }[] = [];
  /** Every answer waits this long (a slow GitHub); calls are still recorded as they arrive. */
  latencyMs = 0;
  /** Sent with every answer (e.g. `x-ratelimit-remaining`). */
  readonly responseHeaders: Record<string, string> = {};
  private readonly routes: Route[] = [];
  private server: Server | undefined;
  url = "";

  /** `route("PUT /orgs/{org}/teams/{team_slug}/memberships/{username}", handler)`. Throws if GitHub has no such operation. */
  route(spec: string, handler: RouteHandler): this {
    const [method, template] = spec.split(" ") as [string, string];
    const op = this.api.operation(method, template);
    const names: string[] = [];
    const pattern = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{([^}]+)\\?\}/g, (_m, n: string) => {
      names.push(n);
      return "([^/]+)";
    });
    this.routes.push({ op, regex: new RegExp(`^${pattern}$`), names, handler });
    return this;
  }

  /** Calls GitHub would count against the installation's rate limit (the app's own token exchanges are not the installation's). */
  countedCalls(from = 0): RecordedCall[] {
    return this.calls.slice(from).filter((c) => c.counted && c.operationId !== "apps/create-installation-access-token");
  }

  /**
   * `headers`/`message`: e.g. a secondary rate limit (403, `retry-after`, "You have exceeded a secondary rate limit").
   * `afterWrite`: GitHub does the write and the answer is lost (a timeout, a cut connection, a client killed
   * mid-call): the caller sees the fault although the change is there.
   */
  fail(spec: string, status: number, times = 1, extra: { headers?: Record<string, string>; message?: string; afterWrite?: boolean } = {}): this {
    const [method, template] = spec.split(" ") as [string, string];
    this.faults.push({ method, template, status, times, ...extra });
    return this;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void this.handle(req.method ?? "GET", req.url ?? "/", req.headers, Buffer.concat(chunks).toString("utf8"))
          .catch((e: unknown): FakeResponse => {
            // A broken handler or schema must fail the test loudly, not hang the client.
            this.violations.push(`${req.method} ${req.url}: the fake itself failed: ${e instanceof Error ? e.message : String(e)}`);
            return { status: 500, body: { message: "fake GitHub failed; see violations" } };
          })
          .then(async (r) => {
            if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
            return r;
          })
          .then((r) => {
            const text = r.body === undefined ? "" : JSON.stringify(r.body);
            res.writeHead(r.status, { ...(text ? { "content-type": "application/json; charset=utf-8" } : {}), ...this.responseHeaders, ...(r.headers ?? {}) });
            res.end(text);
          });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(method: string, rawUrl: string, headers: IncomingHttpHeaders, text: string): Promise<FakeResponse> {
    const t0 = performance.now();
    const n = this.calls.length;
    try {
      return await this.answer(method, rawUrl, headers, text);
    } finally {
      const call = this.calls[n];
      if (call) call.ms = performance.now() - t0;
    }
  }

  private async answer(method: string, rawUrl: string, headers: IncomingHttpHeaders, text: string): Promise<FakeResponse> {
    const url = new URL(rawUrl, "http://localhost");
    // GitHub Enterprise serves the same API under /api/v3 (what GHE_HOST clients call).
    if (url.pathname.startsWith("/api/v3/")) url.pathname = url.pathname.slice("/api/v3".length);
    const match = this.routes
      .filter((r) => r.op.method === method)
      .map((r) => ({ r, m: r.regex.exec(url.pathname) }))
      .find((x) => x.m);
    if (!match) {
      this.violations.push(`no fake route for ${method} ${url.pathname}`);
      return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" } };
    }
    const { r, m } = match;
    const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m![i + 1]!)]));
    let body: unknown;
    if (text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        this.violations.push(`${method} ${r.op.template}: request body is not JSON`);
        return { status: 400, body: { message: "Problems parsing JSON" } };
      }
    }
    const call: RecordedCall = {
      method,
      template: r.op.template,
      operationId: r.op.operationId,
      params,
      query: Object.fromEntries(url.searchParams),
      body,
      status: 0,
      counted: true,
      at: performance.now(),
      ms: 0,
      ...(typeof headers.authorization === "string" ? { authorization: headers.authorization } : {}),
    };
    this.calls.push(call);
    const problems = this.api.validateRequest(r.op, { pathParams: params, query: url.searchParams, body });
    if (problems.length) {
      this.violations.push(...problems.map((p) => `${method} ${r.op.template}: ${p}`));
      call.status = 422;
      return { status: 422, body: { message: "Validation Failed", errors: problems } };
    }
    const fault = this.faults.find((f) => f.method === method && f.template === r.op.template && f.times > 0);
    if (fault) {
      fault.times--;
      if (fault.afterWrite) await r.handler({ method, path: url.pathname, params, query: url.searchParams, body, headers });
      call.status = fault.status;
      return { status: fault.status, body: { message: fault.message ?? `fault injected (${fault.status})` }, ...(fault.headers ? { headers: fault.headers } : {}) };
    }
    const response = await r.handler({ method, path: url.pathname, params, query: url.searchParams, body, headers });
    call.status = response.status;
    if (method === "GET" && response.status === 200 && response.body !== undefined) {
      // Conditional requests as GitHub answers them: a matching If-None-Match is a 304
      // with no body, which does not count against the rate limit.
      const etag = etagOf(response.body);
      if (headers["if-none-match"] === etag) {
        call.status = 304;
        call.counted = false;
        return { status: 304, headers: { etag } };
      }
      response.headers = { ...(response.headers ?? {}), etag };
    }
    const responseProblems = this.api.validateResponse(r.op, response.status, response.body);
    this.violations.push(...responseProblems.map((p) => `${method} ${r.op.template} → ${response.status}: ${p}`));
    return response;
  }
}
