/**
 * Change-freeze windows: date ranges and weekly windows, each in an IANA time
 * zone. Wall-clock times are compared in the window's zone (via Intl), so
 * "Friday 16:00 in Europe/Berlin" means that across daylight-saving changes.
 */
import type { FreezeWindow, Weekday } from "./config.js";

const WEEKDAYS: Weekday[] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
export const HAS_OFFSET = /(Z|[+-]\d{2}:\d{2})$/;

interface LocalTime {
  /** `YYYY-MM-DDTHH:MM:SS`, sortable as text. */
  stamp: string;
  date: string;
  time: string;
  weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

export function localTime(instant: Date, timeZone: string): LocalTime {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      weekday: "short",
    });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(instant)) parts[p.type] = p.value;
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const time = `${parts.hour}:${parts.minute}:${parts.second}`;
  return { stamp: `${date}T${time}`, date, time, weekday: parts.weekday!.slice(0, 3).toLowerCase() as Weekday };
}

/** A local bound as `YYYY-MM-DDTHH:MM:SS`, comparable as text with `localTime().stamp`. */
export function normalizeLocal(bound: string): string {
  if (bound.length === 10) return `${bound}T00:00:00`;
  const [date, time] = bound.split("T") as [string, string];
  const hms = time.split(".")[0]!;
  return `${date}T${hms.length === 5 ? `${hms}:00` : hms}`;
}

function afterStart(bound: string, now: Date, local: LocalTime): boolean {
  if (HAS_OFFSET.test(bound)) return now.getTime() >= Date.parse(bound);
  return local.stamp >= normalizeLocal(bound);
}

function beforeEnd(bound: string, now: Date, local: LocalTime): boolean {
  if (HAS_OFFSET.test(bound)) return now.getTime() < Date.parse(bound);
  // A bare date as the end includes that whole day.
  if (bound.length === 10) return local.date <= bound;
  return local.stamp < normalizeLocal(bound);
}

function inWeekly(weekly: NonNullable<FreezeWindow["weekly"]>, local: LocalTime): boolean {
  const from = `${weekly.from ?? "00:00"}:00`;
  const to = `${weekly.to ?? "24:00"}:00`;
  const today = weekly.days.includes(local.weekday);
  if (from < to) return today && local.time >= from && local.time < to;
  // Wraps past midnight: the window started on a listed day and runs into the next.
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(local.weekday) + 6) % 7]!;
  return (today && local.time >= from) || (weekly.days.includes(yesterday) && local.time < to);
}

const BOUND = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))?)?$/;

/**
 * Why a freeze bound is not a real date or time (the schema checks only its
 * shape), or null when it is one. `2026-02-30` or `T25:00` would otherwise
 * compare as text and quietly open or close a window at the wrong moment.
 */
export function boundProblem(bound: string): string | null {
  const m = BOUND.exec(bound);
  if (!m) return "not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][offset])";
  const [, y, mo, d, h, mi, se, oh, om] = m.map((x) => (x === undefined ? undefined : Number(x)));
  const daysInMonth = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  if (mo! < 1 || mo! > 12) return `month ${mo} does not exist`;
  if (d! < 1 || d! > daysInMonth) return `day ${d} does not exist in ${bound.slice(0, 7)}`;
  if (h !== undefined && (h > 23 || mi! > 59 || (se ?? 0) > 59)) return `time ${bound.slice(11, 19)} does not exist`;
  if (oh !== undefined && (oh > 14 || om! > 59)) return "offset out of range";
  return null;
}

/**
 * Whether a date range can ever be in force. A range whose end is not after
 * its start would silently never freeze anything, which is the permissive
 * failure the policy must not have. Bounds of different kinds (one local, one
 * with an offset) depend on the zone and are not compared here.
 */
export function rangeIsEmpty(from: string, to: string): boolean {
  const fromOffset = HAS_OFFSET.test(from);
  if (fromOffset !== HAS_OFFSET.test(to)) return false;
  if (fromOffset) return Date.parse(to) <= Date.parse(from);
  // A bare end date includes that whole day.
  if (to.length === 10) return from.slice(0, 10) > to;
  return normalizeLocal(to) <= normalizeLocal(from);
}

export function isFreezeActive(window: FreezeWindow, now: Date): boolean {
  const local = localTime(now, window.timeZone ?? "UTC");
  if (window.weekly) return inWeekly(window.weekly, local);
  if (window.from === undefined || window.to === undefined) return false;
  return afterStart(window.from, now, local) && beforeEnd(window.to, now, local);
}

/** Freeze windows in force at `now` for a PR whose requests name `workflows`. */
export function activeFreezes(windows: readonly FreezeWindow[], now: Date, workflows: readonly string[]): FreezeWindow[] {
  return windows.filter((w) => {
    if (w.workflows && !w.workflows.some((name) => workflows.includes(name))) return false;
    return isFreezeActive(w, now);
  });
}

export function describeFreeze(w: FreezeWindow): string {
  const name = w.name ? `"${w.name}" ` : "";
  const tz = w.timeZone ?? "UTC";
  if (w.weekly) return `${name}(weekly ${w.weekly.days.join(",")} ${w.weekly.from ?? "00:00"}–${w.weekly.to ?? "24:00"} ${tz})`;
  return `${name}(${w.from} – ${w.to} ${tz})`;
}
