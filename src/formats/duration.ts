/**
 * Durations as users write them in workflows: `500ms`, `30s`, `5m`, `4h`, `7d`,
 * or combinations like `1h30m`. A bare number is rejected on purpose: `timeout: 30`
 * is ambiguous between seconds and milliseconds.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

export const DURATION_PATTERN = "^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$";

export function parseDuration(text: string): number {
  const src = text.trim();
  if (src === "") throw new Error(`invalid duration ""`);
  let total = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < src.length) {
    PART.lastIndex = pos;
    const m = PART.exec(src);
    if (!m) throw new Error(`invalid duration "${text}": expected e.g. 500ms, 30s, 5m, 4h, 1d`);
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
  }
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}m`;
  return `${+(ms / 3_600_000).toFixed(1)}h`;
}
