/**
 * Times on the command line. A time without a zone is refused rather than read in
 * the machine's local zone: an auditor in another country must get the same rows.
 */
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** A Date, or null with the reason the text is not an unambiguous instant. */
export function parseInstant(text: string): { at: Date } | { error: string } {
  if (!DATE_ONLY.test(text) && !DATE_TIME.test(text)) {
    return { error: `"${text}" is not an ISO 8601 date (2026-11-29) or time with a zone (2026-11-29T10:00:00Z)` };
  }
  // Date-only text is midnight UTC by the ECMAScript rules; fractions beyond ms are cut.
  const at = new Date(text.replace(/(\.\d{3})\d+/, "$1"));
  if (Number.isNaN(at.getTime())) return { error: `"${text}" is not a real date` };
  const [y, m, d] = text.slice(0, 10).split("-").map(Number) as [number, number, number];
  // new Date("2026-02-30") rolls over into March instead of failing.
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return { error: `"${text}" is not a real date` };
  return { at };
}

/** An instant as people read it in checks, comments and tables: `2026-12-02 16:04 UTC` (to the second with `seconds`). Text that is no instant is shown as it is. */
export function utcText(at: Date | string, opts: { seconds?: boolean } = {}): string {
  const d = typeof at === "string" ? new Date(at) : at;
  if (Number.isNaN(d.getTime())) return String(at);
  return `${d.toISOString().slice(0, opts.seconds ? 19 : 16).replace("T", " ")} UTC`;
}
