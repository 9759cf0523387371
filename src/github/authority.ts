/**
 * The files that carry authority, read at the base branch head: CODEOWNERS in
 * GitHub's location order, the repository's `.github/clutch-luigi.yml`, and
 * the organisation's defaults from its `.github` repository (as Probot's
 * `context.config` finds them). Unreadable files become blocking problems.
 */
import { CODEOWNERS_LOCATIONS, CODEOWNERS_MAX_BYTES } from "../policy/index.js";
import { isBlankYaml, MAX_FILE_BYTES, parseSource } from "../formats/index.js";
import type { GitHubClient } from "./client.js";
import type { GatherProblem } from "./facts.js";
import { readRepoFile, type RepoCoordinates, type RepoFile } from "./repo-files.js";

export const POLICY_FILE = ".github/clutch-luigi.yml";

/** Parses a YAML config file read from the repository; blank means "no settings". */
export function parseConfigFile(path: string, file: RepoFile, problems: GatherProblem[]): unknown {
  if (file.kind === "absent") return undefined;
  if (file.kind === "too-large") {
    problems.push({ code: "config-unreadable", message: `${path} is ${file.size} bytes; the limit is ${MAX_FILE_BYTES} bytes` });
    return undefined;
  }
  if (file.kind === "not-a-file") {
    problems.push({ code: "config-unreadable", message: `${path} is a ${file.type}, not a file` });
    return undefined;
  }
  if (isBlankYaml(file.text)) return {};
  const parsed = parseSource(path, file.bytes);
  if (!parsed.ok) {
    for (const p of parsed.problems) problems.push({ code: "config-unreadable", message: `${p.file}:${p.line}:${p.col}: ${p.message}` });
    return undefined;
  }
  return parsed.doc.value;
}

/** The first CODEOWNERS GitHub would use, at `baseSha`. A file GitHub would ignore for its size blocks. */
export async function readCodeowners(gh: GitHubClient, at: RepoCoordinates, baseSha: string, problems: GatherProblem[]): Promise<{ codeowners: string | null; codeownersPath?: string; codeownersSha?: string }> {
  for (const path of CODEOWNERS_LOCATIONS) {
    const f = await readRepoFile(gh, at, path, baseSha, CODEOWNERS_MAX_BYTES);
    if (f.kind === "absent") continue;
    if (f.kind === "file") return { codeowners: f.text, codeownersPath: path, codeownersSha: f.sha };
    if (f.kind === "too-large") {
      problems.push({ code: "codeowners-too-large", message: `${path} is ${f.size} bytes; GitHub ignores a CODEOWNERS file of 3 MB or more, and so does this app: nobody could approve by it` });
    } else {
      problems.push({ code: "codeowners-unreadable", message: `${path} is a ${f.type}, not a file` });
    }
    return { codeowners: null, codeownersPath: path, ...(f.kind === "too-large" ? { codeownersSha: f.sha } : {}) };
  }
  return { codeowners: null };
}

/** The repository's policy at `baseSha`, and the organisation's defaults (its `.github` repository, default branch). */
export async function readPolicyConfigs(gh: GitHubClient, at: RepoCoordinates, baseSha: string, problems: GatherProblem[]): Promise<{ repoConfig: unknown; orgConfig: unknown; repoConfigSha?: string }> {
  const org = { owner: at.owner, repo: ".github" };
  const [file, orgFile] = await Promise.all([
    readRepoFile(gh, at, POLICY_FILE, baseSha, MAX_FILE_BYTES + 1),
    at.repo === ".github" ? Promise.resolve(null) : readRepoFile(gh, org, POLICY_FILE, undefined, MAX_FILE_BYTES + 1),
  ]);
  const repoConfig = parseConfigFile(POLICY_FILE, file, problems);
  const repoConfigSha = file.kind === "file" || file.kind === "too-large" ? file.sha : undefined;
  if (orgFile === null) return { repoConfig, orgConfig: undefined, ...(repoConfigSha ? { repoConfigSha } : {}) };
  const orgConfig = parseConfigFile(`${at.owner}/.github:${POLICY_FILE}`, orgFile, problems);
  return { repoConfig, orgConfig, ...(repoConfigSha ? { repoConfigSha } : {}) };
}
