/** A problem in a user's file, printed as `file:line:col: message` (1-based). */
export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

/** Stable order: by file, then position, then text — so output diffs cleanly between runs. */
export function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.message.localeCompare(b.message),
  );
}

/** Problems reported per file; past this a file is hostile or hopeless, and the rest is noise. */
export const MAX_PROBLEMS_PER_FILE = 50;

/**
 * The first `MAX_PROBLEMS_PER_FILE` problems of one file, in order, then one line saying
 * how many more there are (at the last one kept), so 40,000 bad keys cost one screen.
 */
export function capProblems(problems: Problem[], max = MAX_PROBLEMS_PER_FILE): Problem[] {
  if (problems.length <= max) return problems;
  const kept = sortProblems(problems).slice(0, max);
  const last = kept[kept.length - 1]!;
  const more = problems.length - max;
  return [...kept, { file: last.file, line: last.line, col: last.col, message: `… and ${more} more problem${more === 1 ? "" : "s"} in this file` }];
}
