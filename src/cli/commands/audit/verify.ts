import type { Store } from "../../../store/db.js";
import { verifyAuditChain } from "../../../store/audit.js";
import { auditRowHash, chainHead, readSnapshot, type ChainHead } from "../../../store/audit-query.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";

export const usage = `Usage: clutch-luigi audit verify [--anchor SEQ:HASH]...

Recomputes every hash of the audit chain in one consistent snapshot and checks
the links, the sequence and the chain head. Prints
  N rows, head seq S, head hash H: intact
and exits 0, or names the first broken row and why and exits 1. Keep the head
hash somewhere else (a ticket, a signed tag): a chain rewritten from some row on
by someone who also rewrote the head is only caught against a hash kept outside:
--anchor SEQ:HASH also requires row SEQ to still have that hash.`;

export interface VerifyOptions {
  /** Hashes recorded outside the database earlier (a ticket, a signed tag). */
  anchors: ChainHead[];
}

export function parseVerify(argv: string[]): VerifyOptions {
  const { values, positionals } = parseCli(argv, { anchor: { type: "string", multiple: true } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const anchors = (values.anchor ?? []).map((a) => {
    const m = /^(\d+):([0-9a-f]{64})$/i.exec(a);
    if (!m || Number(m[1]) < 1) throw new UsageError(`--anchor takes SEQ:HASH (a row number and its 64-hex-digit hash), got "${a}"`);
    return { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
  });
  return { anchors };
}

const SHOWN = 20;

export async function executeVerify(store: Store, opts: VerifyOptions, io: CliIO): Promise<number> {
  const { verdict, head } = await readSnapshot(store.db, async (trx) => {
    const verdict = await verifyAuditChain(trx);
    for (const a of opts.anchors) {
      const found = await auditRowHash(trx, a.seq);
      if (found === null) verdict.problems.push({ seq: a.seq, message: "the anchored row is gone" });
      else if (found !== a.hash) verdict.problems.push({ seq: a.seq, message: `hash is ${found}, not the anchored ${a.hash}: the chain was rewritten from here or earlier` });
    }
    verdict.ok = verdict.problems.length === 0;
    return { verdict, head: await chainHead(trx) };
  });
  if (verdict.ok) {
    io.stdout.write(`${verdict.count} rows, head seq ${head.seq}, head hash ${head.hash || "(none)"}: intact\n`);
    if (opts.anchors.length > 0) io.stdout.write(`${opts.anchors.length} anchor${opts.anchors.length === 1 ? "" : "s"} match\n`);
    return 0;
  }
  // Chain order, so "first" is the earliest row an auditor has to distrust.
  const [first, ...rest] = [...verdict.problems].sort((a, b) => a.seq - b.seq);
  io.stdout.write(`BROKEN at seq ${first!.seq}: ${first!.message}\n`);
  for (const p of rest.slice(0, SHOWN - 1)) io.stdout.write(`  also seq ${p.seq}: ${p.message}\n`);
  if (rest.length >= SHOWN) io.stdout.write(`  … ${rest.length - (SHOWN - 1)} more problems\n`);
  io.stdout.write(`${verdict.count} rows read, ${verdict.problems.length} problem${verdict.problems.length === 1 ? "" : "s"}; the chain head says seq ${head.seq}, hash ${head.hash || "(none)"}\n`);
  return 1;
}
