/**
 * A round-robin HTTP load balancer in front of app replicas, as a deployment puts
 * one: each request goes to the next upstream; an upstream that refuses connections
 * (killed) is skipped for that request, and the answer is 502 only when none answers.
 * A request already sent to an upstream that dies mid-answer is not retried: the
 * sender sees 502, as GitHub would.
 */
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export class LoadBalancer {
  private server?: Server;
  private next = 0;
  url = "";
  /** Which upstream answered each request (index), or -1 for a 502. */
  readonly served: number[] = [];

  constructor(readonly upstreams: string[]) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.forward(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    for (let tried = 0; tried < this.upstreams.length; tried++) {
      const i = this.next++ % this.upstreams.length;
      const outcome = await this.attempt(this.upstreams[i]!, req, body);
      if (outcome === "refused") continue;
      if (outcome === "failed") break;
      this.served.push(i);
      res.writeHead(outcome.status, outcome.headers);
      res.end(outcome.body);
      return;
    }
    this.served.push(-1);
    res.writeHead(502, { "content-type": "text/plain" });
    res.end("bad gateway");
  }

  private attempt(upstream: string, req: IncomingMessage, body: Buffer): Promise<"refused" | "failed" | { status: number; headers: Record<string, string>; body: Buffer }> {
    return new Promise((resolve) => {
      const u = new URL(req.url ?? "/", upstream);
      const out = httpRequest(u, { method: req.method, headers: { ...req.headers, host: u.host } }, (r) => {
        const parts: Buffer[] = [];
        r.on("data", (c: Buffer) => parts.push(c));
        r.on("end", () => resolve({ status: r.statusCode ?? 502, headers: { "content-type": String(r.headers["content-type"] ?? "text/plain") }, body: Buffer.concat(parts) }));
        r.on("error", () => resolve("failed"));
      });
      out.on("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED" ? "refused" : "failed"));
      out.end(body);
    });
  }
}
