/**
 * `clutch-luigi runs --active`: the time-bound changes in force (temporary access, a
 * maintenance switch…), soonest to expire first, with when each is undone. Read-only.
 */
import { utcText } from "../../audit/instant.js";
import { formatDuration } from "../../formats/duration.js";
import { validTimeZone } from "../../policy/config.js";
import { activeExpiries, type ActiveExpiry } from "../../store/expiries.js";
import { parseCli } from "../args.js";
import { UsageError, type Command } from "../command.js";
import { openAuditStore } from "./audit/store.js";

const USAGE = `Usage: clutch-luigi runs --active [--repository OWNER/REPO] [--tz ZONE] [--json]

Time-bound runs whose change is in force: they succeeded and their expiry has not
fired yet. Each line shows the run, its workflow and request, who asked, when it
expires (UTC, and in ZONE with --tz, e.g. Europe/Berlin) and how often it was
extended. Reads DATABASE_URL or the embedded database, like clutch-luigi audit.`;

function zoned(d: Date, tz: string): string {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false, timeZoneName: "short" }).formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")} ${get("timeZoneName")}`;
}

export function renderActive(rows: readonly ActiveExpiry[], now: Date, tz?: string): string {
  if (rows.length === 0) return "no time-bound runs are in force\n";
  const lines = rows.map((e) =>
    [
      e.runId.slice(0, 8),
      e.workflow,
      e.requestPath,
      `@${e.requester}`,
      `expires ${utcText(e.expiresAt)}${tz ? ` (${zoned(e.expiresAt, tz)})` : ""}`,
      `in ${formatDuration(Math.max(0, e.expiresAt.getTime() - now.getTime()))}`,
      e.extensions > 0 ? `extended ${e.extensions}×` : "",
    ]
      .filter(Boolean)
      .join("  "),
  );
  return lines.join("\n") + "\n";
}

export const command: Command = {
  name: "runs",
  summary: "time-bound runs in force and when each expires (--active)",
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, {
      active: { type: "boolean" },
      repository: { type: "string" },
      tz: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.active) throw new UsageError("say --active: clutch-luigi runs lists the time-bound runs in force (for a run's history: clutch-luigi audit show RUN)");
    if (values.tz !== undefined && !validTimeZone(values.tz)) throw new UsageError(`--tz: unknown time zone "${values.tz}" (an IANA name such as Europe/Berlin)`);
    if (values.repository !== undefined && !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(values.repository)) throw new UsageError(`--repository takes OWNER/REPO, got "${values.repository}"`);
    const store = await openAuditStore(io);
    try {
      const rows = await activeExpiries(store.db, values.repository ? { repository: values.repository } : {});
      if (values.json) for (const r of rows) io.stdout.write(JSON.stringify(r) + "\n");
      else io.stdout.write(renderActive(rows, new Date(), values.tz));
      return 0;
    } finally {
      await store.close();
    }
  },
};
