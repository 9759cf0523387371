/**
 * A CODEOWNERS file just under GitHub's 3 MB limit made only of wildcard lines, which
 * the matcher's index cannot file under a literal: the worst input the policy core
 * must still evaluate in bounded time. Shared by the unit test and bench:policy.
 */
import { CODEOWNERS_MAX_BYTES } from "../../src/policy/codeowners.js";

export function wildcardCodeownersNearLimit(): string[] {
  const lines: string[] = [];
  let bytes = 0;
  for (let i = 0; ; i++) {
    const line = `a*${i}/**/b*/*c*d*e*f*/** @o${i % 100}`;
    if (bytes + line.length + 1 >= CODEOWNERS_MAX_BYTES) break;
    lines.push(line);
    bytes += line.length + 1;
  }
  return lines;
}
