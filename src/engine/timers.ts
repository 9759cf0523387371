/** Timers the engine's loops wait on: abortable sleeps and delays longer than Node's timer limit. */

/**
 * Resolve after `ms`, or at once when `signal` aborts — including when it had
 * already aborted, which a bare "abort" listener never hears: a loop that was
 * stopped between its check and its wait would otherwise sleep its whole period.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Run `fn` when `signal` aborts, at once if it already has. Returns the unsubscribe function. */
export function whenAborted(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  signal.addEventListener("abort", fn, { once: true });
  return () => signal.removeEventListener("abort", fn);
}

/** Node fires any setTimeout longer than this (about 24.8 days) after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** setTimeout for any delay: `timeout: 30d` must not fire at once. Returns the cancel function. */
export function longTimeout(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout;
  const arm = (left: number): void => {
    timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
  };
  arm(ms);
  return () => clearTimeout(timer);
}
