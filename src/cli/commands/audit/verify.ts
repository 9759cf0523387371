import { Octokit } from "@octokit/rest";
import type { Store } from "../../../store/db.js";
import { verifyAuditChain } from "../../../store/audit.js";
import { auditHashesAt, chainHead, readSnapshot } from "../../../store/audit-query.js";
import { checkAnchors, type Anchor } from "../../../audit/anchor.js";
import { readAnchorsFromGitHub } from "../../../github/audit-anchor.js";
import type { GitHubClient } from "../../../github/client.js";
import { parseCli } from "../../args.js";
import { UsageError, type CliIO } from "../../command.js";

export const usage = `Usage: clutch-luigi audit verify [--anchor SEQ:HASH]... [--after SEQ:HASH]
                              [--anchors-from-github OWNER/REPO [--branch NAME] [--anchor-creator LOGIN]]

Recomputes every hash of the audit chain in one consistent snapshot and checks
the links, the sequence and the chain head. Prints
  N rows, head seq S, head hash H: intact
and exits 0, or names the first broken row and why and exits 1. A chain
rewritten by someone who also rewrote the head (a superuser) is only caught
against a hash kept outside the database:
  --anchor SEQ:HASH           row SEQ must still have that hash (a ticket, a tag)
  --anchors-from-github REPO  every "clutch-luigi/audit" commit status on REPO's
                              branch history ("seq N hash H"); GITHUB_TOKEN for a
                              private repository, GITHUB_API_URL for GitHub Enterprise
  --branch NAME               the branch the app anchors on (default main)
  --anchor-creator LOGIN      count only statuses posted by LOGIN (the app's bot)
  --max-commits N             commits walked back on the branch (default 200)
  --after SEQ:HASH            rows up to SEQ were archived and HASH is the archive's
                              last hash: verify from SEQ+1, linked to HASH`;

export interface VerifyOptions {
  /** Hashes recorded outside the database earlier (a ticket, a signed tag). */
  anchors: Anchor[];
  /** The archived segment's last row: verification starts after it. */
  after?: { seq: number; hash: string };
  github?: { owner: string; repo: string; branch: string; creator?: string; maxCommits: number };
}

const REPO = /^([A-Za-z0-9_.-]{1,100})\/([A-Za-z0-9_.-]{1,100})$/;

export function parseVerify(argv: string[]): VerifyOptions {
  const { values, positionals } = parseCli(argv, {
    anchor: { type: "string", multiple: true },
    after: { type: "string" },
    "anchors-from-github": { type: "string" },
    branch: { type: "string" },
    "anchor-creator": { type: "string" },
    "max-commits": { type: "string" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const seqHash = (a: string, flag: string): { seq: number; hash: string } => {
    const m = /^(\d{1,15}):([0-9a-f]{64})$/i.exec(a);
    if (!m || Number(m[1]) < 1) throw new UsageError(`${flag} takes SEQ:HASH (a row number and its 64-hex-digit hash), got "${a}"`);
    return { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
  };
  const anchors = (values.anchor ?? []).map((a) => ({ ...seqHash(a, "--anchor"), source: "--anchor" }));
  const after = values.after !== undefined ? { after: seqHash(values.after, "--after") } : {};
  const repo = values["anchors-from-github"];
  if (repo === undefined) {
    for (const f of ["branch", "anchor-creator", "max-commits"] as const) {
      if (values[f] !== undefined) throw new UsageError(`--${f} goes with --anchors-from-github`);
    }
    return { anchors, ...after };
  }
  const m = REPO.exec(repo);
  if (!m) throw new UsageError(`--anchors-from-github takes OWNER/REPO, got "${repo}"`);
  const maxText = values["max-commits"] ?? "200";
  if (!/^\d{1,6}$/.test(maxText) || Number(maxText) < 1) throw new UsageError(`--max-commits takes a positive number, got "${maxText}"`);
  if (values.branch === "") throw new UsageError("--branch needs a name");
  return {
    anchors,
    ...after,
    github: {
      owner: m[1]!,
      repo: m[2]!,
      branch: values.branch ?? "main",
      ...(values["anchor-creator"] ? { creator: values["anchor-creator"] } : {}),
      maxCommits: Number(maxText),
    },
  };
}

const SHOWN = 20;

function githubClient(env: NodeJS.ProcessEnv): GitHubClient {
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  return new Octokit({
    ...(env.GITHUB_TOKEN ? { auth: env.GITHUB_TOKEN } : {}),
    baseUrl: env.GITHUB_API_URL ?? "https://api.github.com",
    userAgent: "clutch-luigi audit verify",
    log: silent,
  });
}

export async function executeVerify(store: Store, opts: VerifyOptions, io: CliIO, gh: GitHubClient = githubClient(io.env)): Promise<number> {
  const anchors = [...opts.anchors];
  if (opts.github) {
    const g = opts.github;
    const read = await readAnchorsFromGitHub(gh, { owner: g.owner, repo: g.repo, defaultBranch: g.branch }, { maxCommits: g.maxCommits, ...(g.creator ? { creator: g.creator } : {}) });
    io.stderr.write(
      `${read.anchors.length} anchor${read.anchors.length === 1 ? "" : "s"} on ${g.owner}/${g.repo}@${g.branch} (${read.commits} commits read${read.truncated ? "; older history not read, raise --max-commits" : ""})\n`,
    );
    anchors.push(...read.anchors);
  }
  const { verdict, head } = await readSnapshot(store.db, async (trx) => {
    const verdict = await verifyAuditChain(trx, undefined, opts.after);
    const { hashes, lastSeq } = await auditHashesAt(trx, [...new Set(anchors.map((a) => a.seq))]);
    verdict.problems.push(...checkAnchors(anchors, hashes, lastSeq));
    verdict.ok = verdict.problems.length === 0;
    return { verdict, head: await chainHead(trx) };
  });
  if (verdict.ok) {
    io.stdout.write(`${verdict.count} rows, head seq ${head.seq}, head hash ${head.hash || "(none)"}: intact\n`);
    if (anchors.length > 0) io.stdout.write(`${anchors.length} anchor${anchors.length === 1 ? "" : "s"} match\n`);
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
