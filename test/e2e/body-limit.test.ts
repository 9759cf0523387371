/**
 * Webhook bodies are bounded before the signature check: a body over 25 MiB is refused
 * with 413 while it streams (or at once, when its Content-Length says so), and the
 * server goes on serving valid deliveries.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, WEBHOOK_SECRET, type E2eApp } from "./app.js";
import { delivery, post } from "./webhook-client.js";

let app: E2eApp;
beforeAll(async () => {
  app = await startApp();
}, 60_000);
afterAll(async () => {
  await app?.close();
});

const MiB = 1024 * 1024;

interface Outcome {
  status: number | undefined;
  bytesSent: number;
}

/** Streams `total` bytes in 1 MiB chunks with a bad signature; stops when the server answers or cuts the connection. */
function streamBody(url: string, total: number, headers: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    let bytesSent = 0;
    let status: number | undefined;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve({ status, bytesSent });
      }
    };
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "big", "x-hub-signature-256": `sha256=${"0".repeat(64)}`, ...headers } });
    req.on("response", (res) => {
      status = res.statusCode;
      res.resume();
      res.on("end", finish);
      res.on("error", finish);
    });
    req.on("error", finish);
    req.on("close", finish);
    const chunk = Buffer.alloc(MiB, 0x61);
    const pump = () => {
      while (!done && status === undefined && bytesSent < total) {
        bytesSent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (bytesSent >= total) req.end();
    };
    pump();
  });
}

describe("webhook body limit", () => {
  it("refuses a 64 MB chunked body with a bad signature with 413, cutting it off before it is all sent", async () => {
    const before = process.memoryUsage().rss;
    const out = await streamBody(app.webhookUrl, 64 * MiB, {});
    expect(out.status).toBe(413);
    // Refused once past 25 MiB: the remaining megabytes never went out.
    expect(out.bytesSent).toBeLessThan(64 * MiB);
    // The server (same process) did not grow by the whole body on top of the cap.
    expect(process.memoryUsage().rss - before).toBeLessThan(80 * MiB);
  }, 60_000);

  it("refuses a body whose Content-Length is over 25 MiB without reading it", async () => {
    const out = await streamBody(app.webhookUrl, 30 * MiB, { "content-length": String(30 * MiB) });
    expect(out.status).toBe(413);
    expect(out.bytesSent).toBeLessThan(64 * MiB);
  }, 60_000);

  it("still serves the next valid delivery, and still refuses a small forged one with Probot's own check", async () => {
    const d = delivery("ping", { zen: "Keep it logically awesome.", hook_id: 1 });
    expect((await post(app.webhookUrl, WEBHOOK_SECRET, d)).status).toBe(200);
    expect((await post(app.webhookUrl, WEBHOOK_SECRET, d, `sha256=${"0".repeat(64)}`)).status).not.toBe(200);
  }, 30_000);
});
