/** Small helpers for plain node:http handlers. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLarge, readBounded } from "./body-limit.js";

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1];
}

export class BodyError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Read a JSON body of at most `limit` bytes. */
export async function readJsonBody(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) throw new BodyError(415, "expected content-type application/json");
  let body: Buffer;
  try {
    body = await readBounded(req, limit);
  } catch (e) {
    if (e instanceof BodyTooLarge) throw new BodyError(413, e.message);
    throw e;
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new BodyError(400, "the body is not valid JSON");
  }
}

export function remoteAddress(req: IncomingMessage): string | undefined {
  return req.socket.remoteAddress ?? undefined;
}
