/**
 * A cap on webhook bodies enforced before anything parses or verifies them. A sender
 * holding (or guessing at) the webhook secret could otherwise make the server buffer an
 * arbitrarily large body just to find out the signature is wrong.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** GitHub caps webhook payloads at 25 MB and does not deliver larger ones. */
export const WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
  }
}

/**
 * Read at most `limit` bytes of the body. A declared Content-Length over the limit is
 * refused without reading a byte; a chunked body is counted as it streams and refused
 * the moment it passes the limit.
 */
export function readBounded(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge(limit));
  // Plain listeners rather than `for await`: leaving that loop destroys the socket before the 413 can go out.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        req.pause();
        chunks.length = 0;
        return reject(new BodyTooLarge(limit));
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      stop();
      reject(e);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

/** Answer 413 and close the connection, so the sender cannot keep streaming into it. */
/** A refused upload is drained after the answer for at most this long, and this many bytes, then cut. */
const LINGER_MS = 500;
const MAX_DRAIN_BYTES = 4 * 1024 * 1024;

export function refuseTooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
  const socket = req.socket;
  // Closing at once with unread bytes in flight makes the kernel answer them with a reset,
  // which can reach the client before the 413 does. So: answer, discard what is
  // still arriving for a moment and a few MiB (nothing is buffered), then cut the connection.
  res.once("finish", () => {
    let drained = 0;
    const cut = (): void => void socket.destroy();
    req.on("data", (c: Buffer) => {
      drained += c.length;
      if (drained > MAX_DRAIN_BYTES) cut();
    });
    req.resume();
    setTimeout(cut, LINGER_MS).unref();
  });
  if (!res.headersSent) {
    const text = JSON.stringify({ error: `body larger than ${limit} bytes` });
    // No `connection: close`: Node would close the socket as soon as the answer is out, resetting the upload.
    res.writeHead(413, { "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
    res.end(text);
  }
  else socket.destroy();
}
