/**
 * Why a succeeded run was undone, written as its error when the undo starts and read
 * back by whoever shows the outcome: an undo a person or the clock asked for is the
 * run working as intended, not a failure. One place writes and reads the words.
 */
export type UndoCause = "requested" | "revoked" | "expired";

const PREFIX: Record<UndoCause, string> = {
  requested: "rollback requested by ",
  revoked: "revoked early by ",
  expired: "expired at ",
};

export function undoError(cause: UndoCause, detail: string): string {
  return `${PREFIX[cause]}${detail}`;
}

/** The cause of an undone run's error, and its detail (who, or when); null for a failure. */
export function undoCauseOf(error: string | null): { cause: UndoCause; detail: string } | null {
  if (!error) return null;
  for (const cause of Object.keys(PREFIX) as UndoCause[]) {
    if (error.startsWith(PREFIX[cause])) return { cause, detail: error.slice(PREFIX[cause].length) };
  }
  return null;
}
