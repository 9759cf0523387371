/**
 * One short line per audit row for `audit list`: what an auditor scanning the trail
 * needs to see at a glance. The full data is in `--json` and `audit export`.
 */
import type { AuditRow } from "../store/audit.js";

const MAX = 100;

function scalar(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

function names(v: unknown): string | null {
  return Array.isArray(v) ? v.map((x) => String(x)).join(",") : null;
}

function clip(text: string, max = MAX): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Known kinds get their own wording; anything else shows its scalar fields as key=value. */
export function summarizeAuditRow(row: Pick<AuditRow, "kind" | "data">, max = MAX): string {
  const d = row.data ?? {};
  const bits: string[] = [];
  const add = (label: string | null, v: string | null): void => {
    if (v !== null && v !== "") bits.push(label ? `${label} ${v}` : v);
  };
  switch (row.kind) {
    case "run.created": {
      add(null, scalar(d.workflow));
      add(null, scalar(d.requestPath));
      const where = scalar(d.repository);
      add(null, where && d.pullRequest != null ? `${where}#${String(d.pullRequest)}` : where);
      add("by", scalar(d.requester));
      const approvers = names(d.approvers);
      add("approved by", approvers === "" ? "nobody" : approvers);
      if (d.breakGlass === true) bits.push("BREAK-GLASS");
      break;
    }
    case "auth.rejected":
      add(null, scalar(d.reason));
      add(null, scalar(d.path));
      add(null, scalar(d.message));
      break;
    default: {
      add("attempt", typeof d.attempt === "number" && d.attempt > 0 ? String(d.attempt) : null);
      add(null, scalar(d.phase));
      add(null, scalar(d.errorClass));
      add("retry in", typeof d.delayMs === "number" ? `${d.delayMs}ms` : null);
      add("timer", typeof d.timerMs === "number" ? `${d.timerMs}ms` : null);
      add("lock", scalar(d.lock) ?? scalar(d.key));
      add("outputs", Array.isArray(d.outputs) && d.outputs.length > 0 ? names(d.outputs) : null);
      add(null, scalar(d.status));
      add(null, scalar(d.reason));
      add(null, scalar(d.error));
      const known = new Set(["attempt", "phase", "errorClass", "delayMs", "timerMs", "lock", "key", "outputs", "status", "reason", "error"]);
      for (const [k, v] of Object.entries(d)) {
        if (known.has(k)) continue;
        const s = scalar(v);
        if (s !== null) bits.push(`${k}=${s}`);
      }
    }
  }
  return clip(bits.join(" · "), max);
}
