/**
 * A TCP proxy in front of Postgres that can play a database restart: every open
 * connection is reset and, for a while, the port refuses new ones — what workers
 * see when the server goes down and comes back, without restarting the shared
 * server the other suites use.
 */
import net from "node:net";

export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** Client connections reset by `outage()`. */
  cut = 0;
  /** Client connections accepted, over the proxy's whole life. */
  accepted = 0;

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  async start(port = 0): Promise<number> {
    const server = net.createServer((client) => {
      this.accepted++;
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Postgres "restarts": reset every connection, refuse new ones for `downMs`, then listen again on the same port. */
  async outage(downMs: number): Promise<void> {
    const server = this.server!;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) {
      if (s.remoteAddress !== undefined && s.remotePort !== this.targetPort) this.cut++;
      s.resetAndDestroy();
    }
    await closed;
    await new Promise((r) => setTimeout(r, downMs));
    await this.start(this.port);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}
