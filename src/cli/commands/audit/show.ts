import type { Store } from "../../../store/db.js";
import { loadRunRecord, readSnapshot } from "../../../store/audit-query.js";
import { renderRunStory } from "../../../audit/story.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";
import { resolveRunId, runIdOption } from "./options.js";

export const usage = `Usage: clutch-luigi audit show RUN_ID

The story of one run: the request (workflow, file, reason, parameter names),
who asked and who approved it (with review ids), every state change in chain
order, the attempts with their error classes, how it ended, and the hashes that
anchor it in the chain. Exits 1 if the run's rows or its runs-table record
disagree with the hashed trail.`;

export function parseShow(argv: string[]): { run: string } {
  const { positionals } = parseCli(argv, {});
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "which run? give RUN_ID" : `unexpected argument "${positionals[1]}"`);
  return { run: runIdOption(positionals[0], "RUN_ID")! };
}

export async function executeShow(store: Store, opts: { run: string }, io: CliIO): Promise<number> {
  const found = await readSnapshot(store.db, async (trx) => {
    const runId = await resolveRunId(trx, opts.run);
    return { runId, record: await loadRunRecord(trx, runId) };
  });
  if (!found.record.run && found.record.events.length === 0) {
    io.stderr.write(`no run ${found.runId} in this database\n`);
    return 1;
  }
  const story = renderRunStory(found.runId, found.record);
  io.stdout.write(story.lines.join("\n") + "\n");
  return story.problems.length > 0 ? 1 : 0;
}
