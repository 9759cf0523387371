import type { Store } from "../../../store/db.js";
import { verifyAuditChain } from "../../../store/audit.js";
import { chainHead, readSnapshot } from "../../../store/audit-query.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";

export const usage = `Usage: clutch-luigi audit verify

Recomputes every hash of the audit chain in one consistent snapshot and checks
the links, the sequence and the chain head. Prints
  N rows, head seq S, head hash H: intact
and exits 0, or names the first broken row and why and exits 1. Keep the head
hash somewhere else (a ticket, a signed tag): a chain rewritten from some row on
by someone who also rewrote the head is only caught against a hash kept outside.`;

export function parseVerify(argv: string[]): Record<string, never> {
  const { positionals } = parseCli(argv, {});
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  return {};
}

const SHOWN = 20;

export async function executeVerify(store: Store, _opts: Record<string, never>, io: CliIO): Promise<number> {
  const { verdict, head } = await readSnapshot(store.db, async (trx) => ({ verdict: await verifyAuditChain(trx), head: await chainHead(trx) }));
  if (verdict.ok) {
    io.stdout.write(`${verdict.count} rows, head seq ${head.seq}, head hash ${head.hash || "(none)"}: intact\n`);
    return 0;
  }
  const [first, ...rest] = verdict.problems;
  io.stdout.write(`BROKEN at seq ${first!.seq}: ${first!.message}\n`);
  for (const p of rest.slice(0, SHOWN - 1)) io.stdout.write(`  also seq ${p.seq}: ${p.message}\n`);
  if (rest.length >= SHOWN) io.stdout.write(`  … ${rest.length - (SHOWN - 1)} more problems\n`);
  io.stdout.write(`${verdict.count} rows read, ${verdict.problems.length} problem${verdict.problems.length === 1 ? "" : "s"}; the chain head says seq ${head.seq}, hash ${head.hash || "(none)"}\n`);
  return 1;
}
