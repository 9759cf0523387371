/**
 * Works the webhook delivery queue in every app server process: claims
 * deliveries under a lease (src/store/deliveries.ts), processes a few at once,
 * and marks each done, or schedules its retry, or gives up on it (`dead`).
 * Woken by the local webhook endpoint and, on a shared server, by
 * LISTEN/NOTIFY from any replica; polls as a fallback (and for retries that
 * come due). A process that dies mid-delivery leaves a lease that runs out,
 * and another process finishes the delivery.
 *
 * A live process never holds a delivery forever either: the heartbeat would keep
 * its lease for as long as the handler awaits, so an attempt that has not ended
 * after `timeoutMs` is abandoned (its signal aborts the GitHub calls in flight)
 * and retried like any transient failure.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import type { DeliveryResult } from "../github/handlers/process-delivery.js";
import type { Store } from "../store/db.js";
import { listenForDeliveries } from "../store/delivery-listener.js";
import {
  claimDeliveries,
  completeDelivery,
  extendDeliveryLease,
  failDelivery,
  openDeliveryCount,
  releaseDelivery,
  type StoredDelivery,
} from "../store/deliveries.js";
import { classifyFailure, DEFAULT_RETRY, DeliveryTimeout, retryDelay, type RetryPolicy } from "./delivery-retry.js";
import type { AppMetrics } from "./metrics.js";

export interface DeliveryProcessorOptions {
  store: Store;
  /** Processes one delivery; throws to have it retried. `signal` aborts when the attempt is abandoned (timeout). */
  process(d: StoredDelivery, signal: AbortSignal): Promise<DeliveryResult>;
  metrics?: AppMetrics;
  log?: (message: string) => void;
  owner?: string;
  /** Deliveries processed at once by this process (default 4). */
  concurrency?: number;
  /** How long a claimed delivery stays ours without a heartbeat (default 60 s). */
  leaseMs?: number;
  /** Longest sleep between looks at the queue (default 2 s on Postgres, 250 ms embedded). */
  pollMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Longest one attempt may take before it is abandoned and retried (default 10 min). */
  timeoutMs?: number;
  /** How long stop() waits for deliveries in hand before handing them back (default 10 s). */
  stopGraceMs?: number;
  random?: () => number;
}

export interface DeliveryProcessor {
  /** Look at the queue now. */
  wake(): void;
  /** Resolves once no delivery is pending, retrying or running (tests wait on it); rejects after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** `work(signal)`, or a DeliveryTimeout after `ms` (the signal then aborts, so the work can stop early). */
async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new DeliveryTimeout(ms);
      reject(e);
      abort.abort(e);
    }, ms);
  });
  try {
    return await Promise.race([work(abort.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startDeliveryProcessor(opts: DeliveryProcessorOptions): DeliveryProcessor {
  const { store } = opts;
  const db = store.db;
  const log = opts.log ?? (() => undefined);
  const owner = opts.owner ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const leaseMs = opts.leaseMs ?? 60_000;
  const timeoutMs = Math.max(1, opts.timeoutMs ?? 600_000);
  const pollMs = opts.pollMs ?? (store.backend === "pg" ? 2_000 : 250);
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  const random = opts.random ?? Math.random;
  const inFlight = new Map<string, Promise<void>>();
  let stopped = false;
  let woken = false;
  let waiter: (() => void) | null = null;

  const wake = (): void => {
    woken = true;
    const w = waiter;
    waiter = null;
    w?.();
  };
  const listener = listenForDeliveries(store, wake);

  const waitForWake = async (ms: number): Promise<void> => {
    if (woken || stopped) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        waiter = null;
        resolve();
      }, ms);
      waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  };

  async function run(d: StoredDelivery): Promise<void> {
    const label = `${d.event}.${d.action ?? ""}`;
    const started = performance.now();
    // Claimed more often than any failure allows, yet never failed: every process that held
    // it died (a delivery that crashes its process, say). It must not take the next one down too.
    if (d.attempts > policy.maxAttempts) {
      const error = `claimed ${d.attempts} times without finishing: the processes that held it stopped mid-delivery`;
      opts.metrics?.webhooks.inc({ event: label, outcome: "dead" });
      log(`delivery ${d.id} (${label}) is dead: ${error}`);
      await failDelivery(db, d.id, owner, error, null).catch((err: unknown) => log(`delivery ${d.id}: could not record the failure: ${message(err)}`));
      return;
    }
    let lost = false;
    // The heartbeat keeps the lease while GitHub is slow; a lost lease means another process took over.
    const heartbeat = setInterval(() => {
      extendDeliveryLease(db, d.id, owner, leaseMs).then(
        (held) => (lost ||= !held),
        () => undefined,
      );
    }, Math.max(50, Math.floor(leaseMs / 3)));
    try {
      const result = await withTimeout(timeoutMs, (signal) => opts.process(d, signal));
      clearInterval(heartbeat);
      const done = await completeDelivery(db, d.id, owner);
      const seconds = (performance.now() - started) / 1000;
      opts.metrics?.webhooks.inc({ event: label, outcome: result.kind === "ignored" ? "ignored" : "ok" });
      opts.metrics?.webhookSeconds.observe({ event: label }, seconds);
      if (result.kind === "evaluated") opts.metrics?.verdicts.inc({ outcome: result.approved ? "approved" : "not_approved" });
      if (!done || lost) log(`delivery ${d.id} (${label}): processed, but its lease had passed to another process`);
    } catch (e) {
      clearInterval(heartbeat);
      const failure = classifyFailure(e);
      const delay = retryDelay(policy, failure, d.attempts, random);
      const error = `${failure.reason}: ${message(e)}`;
      opts.metrics?.webhooks.inc({ event: label, outcome: delay === null ? "dead" : "error" });
      opts.metrics?.webhookSeconds.observe({ event: label }, (performance.now() - started) / 1000);
      log(
        delay === null
          ? `delivery ${d.id} (${label}) is dead after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}: ${error}`
          : `delivery ${d.id} (${label}) attempt ${d.attempts} failed, retrying in ${delay} ms: ${error}`,
      );
      // If this write fails too, the lease runs out and the delivery is claimed again.
      await failDelivery(db, d.id, owner, error, delay).catch((err: unknown) => log(`delivery ${d.id}: could not record the failure: ${message(err)}`));
    }
  }

  const loop = (async () => {
    while (!stopped) {
      woken = false;
      await listener.ensure();
      const free = concurrency - inFlight.size;
      let claimed: StoredDelivery[] = [];
      if (free > 0) {
        try {
          claimed = await claimDeliveries(db, { owner, leaseMs, limit: free });
        } catch (e) {
          if (!stopped) log(`deliveries: claim failed: ${message(e)}`);
        }
      }
      for (const d of claimed) {
        const p = run(d).finally(() => {
          inFlight.delete(d.id);
          // Capacity is free again, and the next delivery of the same pull request may now be claimable.
          wake();
        });
        inFlight.set(d.id, p);
      }
      if (claimed.length > 0 && claimed.length === free) continue;
      await waitForWake(pollMs);
    }
  })();

  return {
    wake,
    async idle(timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (inFlight.size === 0 && (await openDeliveryCount(db)) === 0) return;
        if (Date.now() > until) throw new Error(`deliveries still open after ${timeoutMs} ms (${inFlight.size} in hand)`);
        wake();
        await sleep(20);
      }
    },
    async stop() {
      stopped = true;
      wake();
      await loop;
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), opts.stopGraceMs ?? 10_000)));
      const ended = await Promise.race([Promise.all(inFlight.values()).then(() => "done" as const), grace]);
      clearTimeout(timer);
      if (ended === "late") {
        // Handed back rather than left to its lease: another replica starts on it at once.
        for (const id of inFlight.keys()) await releaseDelivery(db, id, owner).catch(() => undefined);
      }
      await listener.close();
    },
  };
}
