import os from "node:os";
import { openStore, storeOptionsFromEnv } from "../../store/db.js";
import { cancelRun, getRun } from "../../store/runs.js";
import { parseCli } from "../args.js";
import { UsageError, type Command } from "../command.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_REASON = 1_000;
const ACTIVE = new Set(["waiting", "running", "rolling_back"]);

/** Who is typing: --as, else the OS account (USER/USERNAME, else the account database). */
function osUser(env: NodeJS.ProcessEnv): string {
  if (env.USER) return env.USER;
  if (env.USERNAME) return env.USERNAME;
  try {
    return os.userInfo().username;
  } catch {
    return "unknown";
  }
}

/** Control characters would let a reason rewrite the terminal of whoever reads the audit trail. */
function cleanText(text: string, what: string, max: number): string {
  if (/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(text)) throw new UsageError(`${what} must not contain control characters`);
  if (text.length > max) throw new UsageError(`${what} is longer than ${max} characters`);
  return text;
}

export const command: Command = {
  name: "cancel",
  summary: "cancel an active run (queued steps cancelled, running ones stopped, completed ones undone)",
  usage: `Usage: clutch-luigi cancel RUN_ID [--reason TEXT] [--as NAME]

Cancels a run that is waiting, running or rolling back, in the database named by
DATABASE_URL (or the embedded one under CLUTCH_LUIGI_DATA_DIR): steps not yet started
are cancelled (a pending durable wait never fires), running steps are stopped at their
next heartbeat, and completed steps are rolled back. It is the same cancel as the
"Cancel run" button and POST /api/runs/:id/cancel.

Whoever can run this with the database's credentials has operator authority over
every run: no GitHub policy is consulted. The audit row (run.cancel_requested) names
--as NAME, or else the OS user, with the OS user, host and --reason beside it.

Exit status: 0 when the run is cancelled or being cancelled; 1 when there is no such
run or it has already finished.`,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, { reason: { type: "string" }, as: { type: "string" } });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "name the run to cancel" : `unexpected argument "${positionals[1]}"`);
    const runId = positionals[0]!;
    if (!UUID.test(runId)) throw new UsageError(`"${runId.slice(0, 80)}" is not a run id`);
    const user = osUser(io.env);
    const actor = values.as !== undefined ? cleanText(values.as, "--as", 100) : user;
    if (actor.trim() === "") throw new UsageError("--as must name someone");
    const reason = values.reason !== undefined ? cleanText(values.reason, "--reason", MAX_REASON) : undefined;
    const store = await openStore({ ...storeOptionsFromEnv(io.env, io.cwd), migrate: false });
    try {
      const before = await getRun(store, runId);
      if (!before) {
        io.stderr.write(`clutch-luigi cancel: no run ${runId}\n`);
        return 1;
      }
      if (!ACTIVE.has(before.state)) {
        io.stderr.write(`clutch-luigi cancel: run ${runId} is ${before.state}; there is nothing to cancel\n`);
        return 1;
      }
      const state = await cancelRun(store, runId, actor, { via: "cli", osUser: user, host: os.hostname(), ...(reason !== undefined ? { reason } : {}) });
      io.stdout.write(
        state === "cancelled"
          ? `run ${runId}: cancelled\n`
          : `run ${runId}: ${state === "rolling_back" ? "cancelling — completed steps are being rolled back and running ones stopped by the workers" : state}\n`,
      );
      return ACTIVE.has(state) || state === "cancelled" ? 0 : 1;
    } finally {
      await store.close();
    }
  },
};
