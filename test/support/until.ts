/** Polls `probe` every 50 ms until it gives a value, or fails after `ms` naming what it waited for (and `why`, if given). */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000, why: () => string = () => ""): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${why() ? `: ${why()}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
