/**
 * Waking idle workers: a LISTEN connection for the channel the transition functions
 * NOTIFY on when they make steps claimable, with polling as the fallback.
 */
import pg from "pg";

export const NOTIFY_CHANNEL = "clutch_luigi_work";

export class WorkListener {
  private client: pg.Client | null = null;
  private subscribed = false;
  /**
   * Set when a wake-up may have been missed: a NOTIFY arrived while nobody waited, or
   * LISTEN was only just issued (work that became ready between the worker's last
   * claim and its LISTEN was announced to nobody). The next wait then returns at once
   * so the worker looks again: listen first, then check, then sleep.
   */
  private wakePending = false;
  private chain: Promise<void> = Promise.resolve();
  private waiters = new Set<() => void>();
  private closed = false;

  /** @param databaseUrl null: no LISTEN (the embedded database); waits are plain timeouts. */
  constructor(private readonly databaseUrl: string | null) {}

  /**
   * LISTEN while idle, UNLISTEN while busy. Each NOTIFY costs a transaction in every
   * listening backend, so a busy worker — which finds its next steps when it reports
   * the current ones — should not be paying for the fleet's wake-ups.
   */
  private setListening(want: boolean): Promise<void> {
    if (!this.databaseUrl || this.closed) return Promise.resolve();
    const url = this.databaseUrl;
    this.chain = this.chain.then(async () => {
      if (want === this.subscribed && this.client) return;
      if (!want && !this.client) return;
      if (!this.client) {
        const client = new pg.Client({ connectionString: url, application_name: "clutch-luigi-listen", keepAlive: true });
        client.on("notification", () => this.wakeAll());
        client.on("error", () => {
          // Reconnect on the next idle wait; meanwhile polling covers us.
          if (this.client === client) {
            this.client = null;
            this.subscribed = false;
          }
          client.end().catch(() => undefined);
        });
        await client.connect();
        this.client = client;
      }
      await this.client.query(want ? `listen ${NOTIFY_CHANNEL}` : `unlisten ${NOTIFY_CHANNEL}`);
      if (want && !this.subscribed) this.wakePending = true;
      this.subscribed = want;
    }).catch(() => {
      this.client?.end().catch(() => undefined);
      this.client = null;
      this.subscribed = false;
    });
    return this.chain;
  }

  /** Wake every waiting worker loop (or the next one to wait). */
  wakeAll(): void {
    if (this.waiters.size === 0) this.wakePending = true;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  async wait(ms: number, signal: AbortSignal, listen: boolean): Promise<void> {
    await this.setListening(listen);
    if (signal.aborted) return;
    if (this.wakePending) {
      this.wakePending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
