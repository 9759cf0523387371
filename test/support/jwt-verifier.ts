/**
 * A downstream service on 127.0.0.1 that does what docs/identity.md tells real
 * services to do: verify the step token with jose against the app's JWKS URL,
 * then answer. Every request is recorded with its verified claims.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Verified claims, or undefined if the token was missing or bad. */
  claims?: JWTPayload;
  tokenError?: string;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Hold the response this long (for abort tests). */
  delayMs?: number;
}

export interface JwtVerifyingServer {
  url: string;
  requests: ReceivedRequest[];
  /** Decide the reply for each request (after verification). Default: 200 echo of the claims. */
  respond(fn: (req: ReceivedRequest) => Reply): void;
  close(): Promise<void>;
}

export async function startJwtVerifyingServer(options: {
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** Header carrying the token; default `authorization` with `Bearer `. */
  header?: string;
}): Promise<JwtVerifyingServer> {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
  const requests: ReceivedRequest[] = [];
  let responder: (req: ReceivedRequest) => Reply = (r) =>
    r.claims ? { status: 200, body: { ok: true, sub: r.claims.sub } } : { status: 401, body: { error: r.tokenError } };
  const header = (options.header ?? "authorization").toLowerCase();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const received: ReceivedRequest = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        const raw = req.headers[header];
        const value = Array.isArray(raw) ? raw[0] : raw;
        const token = header === "authorization" ? value?.replace(/^Bearer /, "") : value;
        try {
          if (!token) throw new Error("no token");
          const { payload } = await jwtVerify(token, jwks, { issuer: options.issuer, audience: options.audience, algorithms: ["ES256", "EdDSA"] });
          received.claims = payload;
        } catch (e) {
          received.tokenError = (e as Error).message;
        }
        requests.push(received);
        const reply = responder(received);
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (res.destroyed) return;
        res.writeHead(reply.status, { "content-type": "application/json", ...(reply.headers ?? {}) });
        res.end(reply.body === undefined ? "" : JSON.stringify(reply.body));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    respond(fn) {
      responder = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
