import type { Store } from "../../../store/db.js";
import { loadRunRecord, readSnapshot } from "../../../store/audit-query.js";
import { renderRunStory, runDocument } from "../../../audit/story.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";
import { resolveRunId, runIdOption } from "./options.js";

export const usage = `Usage: clutch-luigi audit show RUN_ID [--json]

The story of one run: the request (workflow, file, reason, parameter names),
who asked and who approved it (with review ids), every state change in chain
order, the attempts with their error classes, how it ended, and the hashes that
anchor it in the chain. Exits 1 if the run's rows or its runs-table record
disagree with the hashed trail.

--json prints one JSON document instead: the hashed run.created row with the
run's git-linked evidence (request blob and content hash at the merge commit,
workflow, policy and CODEOWNERS blobs, each approval with its review, rule and
team), every audit row, step and attempt, the outcome, and the git commands
that check the evidence against a clone of the repository.`;

export function parseShow(argv: string[]): { run: string; json?: boolean } {
  const { positionals, values } = parseCli(argv, { json: { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "which run? give RUN_ID" : `unexpected argument "${positionals[1]}"`);
  return { run: runIdOption(positionals[0], "RUN_ID")!, ...(values.json ? { json: true } : {}) };
}

export async function executeShow(store: Store, opts: { run: string; json?: boolean }, io: CliIO): Promise<number> {
  const found = await readSnapshot(store.db, async (trx) => {
    const runId = await resolveRunId(trx, opts.run);
    return { runId, record: await loadRunRecord(trx, runId) };
  });
  if (!found.record.run && found.record.events.length === 0) {
    io.stderr.write(`no run ${found.runId} in this database\n`);
    return 1;
  }
  if (opts.json) {
    const doc = runDocument(found.runId, found.record);
    io.stdout.write(JSON.stringify(doc, null, 2) + "\n");
    return doc.problems.length > 0 ? 1 : 0;
  }
  const story = renderRunStory(found.runId, found.record);
  io.stdout.write(story.lines.join("\n") + "\n");
  return story.problems.length > 0 ? 1 : 0;
}
