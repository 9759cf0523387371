/**
 * Why a merge starts no run. Thrown by the merge path's own checks and caught
 * by type only: anything else (GitHub down, the database gone) propagates so
 * the delivery fails and GitHub redelivers it, instead of being recorded as a
 * refusal of a merge that was never judged.
 */
export class RunRefusal extends Error {
  constructor(
    readonly reasons: readonly string[],
    /** The policy's blocker codes at the merged state, when it was evaluated. */
    readonly blocking: readonly string[] = [],
  ) {
    super(reasons[0] ?? "refused");
    this.name = "RunRefusal";
  }
}
