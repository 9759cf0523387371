/**
 * Anchors: the chain head (seq and hash) written where the database cannot rewrite
 * it — a commit status `clutch-luigi/audit` on the ops repository's default branch,
 * and the run's outcome comment. A superuser can recompute every hash in the
 * database; a hash published earlier still names what row `seq` was, so a rewrite
 * or truncation after it is caught with no secret at all.
 */
import type { ChainHead } from "../store/audit-query.js";

export const AUDIT_STATUS_CONTEXT = "clutch-luigi/audit";

/** An anchor and where it was read from (shown when it does not match). */
export interface Anchor extends ChainHead {
  source: string;
}

export interface AnchorProblem {
  seq: number;
  message: string;
}

const DESCRIPTION = /^seq (\d{1,15}) hash ([0-9a-f]{64})$/;

/** The status description: `seq N hash H` (85 characters at most; GitHub allows 140). */
export function anchorDescription(head: ChainHead): string {
  if (!Number.isSafeInteger(head.seq) || head.seq < 1 || !/^[0-9a-f]{64}$/.test(head.hash)) {
    throw new RangeError(`not a chain head to anchor: seq ${head.seq} hash ${head.hash}`);
  }
  return `seq ${head.seq} hash ${head.hash}`;
}

/** The head a description names, or null when it is not one of ours (exact form only). */
export function parseAnchorDescription(text: string | null | undefined): ChainHead | null {
  if (typeof text !== "string") return null;
  const m = DESCRIPTION.exec(text);
  if (!m) return null;
  const seq = Number(m[1]);
  return seq >= 1 ? { seq, hash: m[2]! } : null;
}

/** The line the outcome comment carries, so the head is also kept in the PR's history. */
export function anchorCommentLine(head: ChainHead): string {
  return head.seq > 0 ? `Audit chain head: \`seq ${head.seq} hash ${head.hash}\`` : "Audit chain head: (empty chain)";
}

/**
 * Compare published anchors with the hashes the database holds now. `hashAt` gives
 * the stored hash of row `seq` (null: no such row); `lastSeq` is the last row present.
 */
export function checkAnchors(anchors: Anchor[], hashAt: ReadonlyMap<number, string>, lastSeq: number): AnchorProblem[] {
  const problems: AnchorProblem[] = [];
  for (const a of anchors) {
    const found = hashAt.get(a.seq);
    if (found === undefined) {
      problems.push({
        seq: a.seq,
        message:
          a.seq > lastSeq
            ? `anchor seq ${a.seq} (${a.source}) is past the last row (seq ${lastSeq}): the chain was truncated after it`
            : `anchor seq ${a.seq} (${a.source}): the anchored row is gone`,
      });
    } else if (found !== a.hash) {
      problems.push({ seq: a.seq, message: `anchor seq ${a.seq} (${a.source}) says hash ${a.hash}, the row has ${found}: the chain was rewritten at or before seq ${a.seq}` });
    }
  }
  return problems;
}
