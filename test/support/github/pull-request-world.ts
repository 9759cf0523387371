/**
 * The shared fake with the pull-request modules attached: git data and
 * contents, pulls with reviews and commits, team member lists and check
 * runs. Kept out of index.ts so that file's owner need not change it.
 */
import { FakeChecks } from "./checks.js";
import { FakeComments } from "./comments.js";
import { FakeStatuses } from "./statuses.js";
import { serveCompare } from "./compare.js";
import { FakeGit } from "./git.js";
import { startFakeGitHub, type StartedFakeGitHub } from "./index.js";
import { FakePulls } from "./pulls.js";
import { serveTeamMembers } from "./team-members.js";

export interface PullRequestWorld extends StartedFakeGitHub {
  git: FakeGit;
  pulls: FakePulls;
  checks: FakeChecks;
  comments: FakeComments;
  statuses: FakeStatuses;
}

export async function startPullRequestWorld(): Promise<PullRequestWorld> {
  const started = await startFakeGitHub();
  const git = new FakeGit(started.fake);
  const pulls = new FakePulls(started.fake, git);
  const checks = new FakeChecks(started.fake);
  const comments = new FakeComments(started.fake);
  const statuses = new FakeStatuses(started.fake);
  serveTeamMembers(started.fake, started.teams);
  serveCompare(started.fake, git);
  return { ...started, git, pulls, checks, comments, statuses };
}

export { FakeGit, blobSha, type FakeRepo, type FakeCommit } from "./git.js";
export { FakePulls, type FakePull, type FakeReview, type FakeUser } from "./pulls.js";
export { FakeChecks, type FakeCheckRun } from "./checks.js";
export { FakeComments, type FakeComment } from "./comments.js";
