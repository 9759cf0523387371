/**
 * Refusals (rejected tokens, forbidden reads and callbacks) go into the audit chain
 * without letting a sprayer fill it: per source and kind, the first refusal of a
 * window is written in full at once; the rest of that window only count, and one
 * `<kind>.aggregate` row with the count is written when the window closes (or at
 * shutdown). A source over `limit` refusals in a window is answered 429 without its
 * token even being verified. The counters are this replica's own: with N replicas a
 * source yields up to N rows per window.
 */

export interface RefusalSource {
  remoteAddress?: string;
  /** Claimed, unverified issuer of the token: part of the key, so one noisy issuer does not hide another. */
  issuer?: string;
}

export type RefusalWriter = (kind: string, data: Record<string, unknown>) => Promise<void>;

export interface RefusalAggregatorOptions {
  write: RefusalWriter;
  /** Length of an aggregation window. Default 60 s. */
  windowMs?: number;
  /** Refusals per source and window after which the source is answered 429 unverified. Default 20. */
  limit?: number;
  onError?: (e: unknown) => void;
}

interface Window {
  kind: string;
  source: RefusalSource;
  startedAt: number;
  lastAt: number;
  /** Refusals after the first (the first has its own row). */
  repeats: number;
  reasons: Record<string, number>;
  timer: NodeJS.Timeout;
}

export class RefusalAggregator {
  private readonly windows = new Map<string, Window>();
  private readonly perSource = new Map<string, { startedAt: number; count: number }>();
  private readonly pending = new Set<Promise<void>>();
  private readonly windowMs: number;
  private readonly limit: number;

  constructor(private readonly options: RefusalAggregatorOptions) {
    this.windowMs = options.windowMs ?? 60_000;
    this.limit = options.limit ?? 20;
  }

  /** True when the source has used up its refusals for this window: answer 429, do no work. */
  limited(remoteAddress: string | undefined): boolean {
    const s = this.perSource.get(remoteAddress ?? "");
    return s !== undefined && Date.now() - s.startedAt < this.windowMs && s.count >= this.limit;
  }

  /** Record one refusal; resolves once it is in the chain (its own row, or the open window's count). */
  async record(kind: string, source: RefusalSource, reason: string, data: Record<string, unknown>): Promise<void> {
    const now = Date.now();
    this.countSource(source.remoteAddress, now);
    const key = JSON.stringify([kind, source.remoteAddress ?? "", source.issuer ?? ""]);
    const open = this.windows.get(key);
    if (open) {
      open.repeats++;
      open.lastAt = now;
      open.reasons[reason] = (open.reasons[reason] ?? 0) + 1;
      return;
    }
    const timer = setTimeout(() => this.track(this.close(key)), this.windowMs);
    timer.unref();
    this.windows.set(key, { kind, source, startedAt: now, lastAt: now, repeats: 0, reasons: {}, timer });
    await this.options.write(kind, { ...data, reason });
  }

  /** Write every open window's aggregate (shutdown, or a test that wants the rows now). */
  async flush(): Promise<void> {
    await Promise.all([...this.windows.keys()].map((k) => this.close(k)));
    await Promise.all([...this.pending]);
  }

  private countSource(remoteAddress: string | undefined, now: number): void {
    const key = remoteAddress ?? "";
    const s = this.perSource.get(key);
    if (!s || now - s.startedAt >= this.windowMs) this.perSource.set(key, { startedAt: now, count: 1 });
    else s.count++;
  }

  private async close(key: string): Promise<void> {
    const w = this.windows.get(key);
    if (!w) return;
    this.windows.delete(key);
    clearTimeout(w.timer);
    for (const [k, s] of this.perSource) if (Date.now() - s.startedAt >= this.windowMs) this.perSource.delete(k);
    if (w.repeats === 0) return;
    await this.options.write(`${w.kind}.aggregate`, {
      count: w.repeats,
      reasons: w.reasons,
      ...(w.source.remoteAddress ? { remoteAddress: w.source.remoteAddress } : {}),
      ...(w.source.issuer ? { claimedIssuer: w.source.issuer } : {}),
      windowStart: new Date(w.startedAt).toISOString(),
      lastAt: new Date(w.lastAt).toISOString(),
    });
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((e) => this.options.onError?.(e)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}
