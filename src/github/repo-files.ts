/**
 * Reading one file of a repository at an exact commit, with a size bound
 * checked before the content is downloaded or decoded. The contents API
 * inlines files up to 1 MB only; larger ones (a CODEOWNERS may reach 3 MB)
 * are fetched as blobs by their SHA.
 */
import { requestOrNull, type GitHubClient } from "./client.js";

export type RepoFile =
  | { kind: "absent" }
  | { kind: "file"; text: string; bytes: Uint8Array; sha: string; size: number }
  | { kind: "too-large"; size: number; sha: string }
  | { kind: "not-a-file"; type: string };

interface ContentEntry {
  type: string;
  name: string;
  path: string;
  sha: string;
  size: number;
  content?: string;
  encoding?: string;
}

export interface RepoCoordinates {
  owner: string;
  repo: string;
}

function decode(content: string, encoding: string | undefined): Uint8Array | null {
  if (encoding === "base64") return new Uint8Array(Buffer.from(content, "base64"));
  if (encoding === "utf-8" || encoding === "utf8") return new TextEncoder().encode(content);
  return null;
}

/**
 * The file at `path` in commit `ref`. `maxBytes` is a hard limit: a file at or
 * above it is reported as too large and never read.
 */
export async function readRepoFile(gh: GitHubClient, at: RepoCoordinates, path: string, ref: string | undefined, maxBytes: number): Promise<RepoFile> {
  const data = await requestOrNull<ContentEntry | ContentEntry[]>(gh, "GET /repos/{owner}/{repo}/contents/{path}", {
    owner: at.owner,
    repo: at.repo,
    path,
    ...(ref ? { ref } : {}),
  });
  if (data === null) return { kind: "absent" };
  if (Array.isArray(data)) return { kind: "not-a-file", type: "dir" };
  if (data.type !== "file") return { kind: "not-a-file", type: data.type };
  if (data.size >= maxBytes) return { kind: "too-large", size: data.size, sha: data.sha };
  let bytes = data.content ? decode(data.content, data.encoding) : null;
  if (bytes === null || (bytes.length === 0 && data.size > 0)) {
    // Over 1 MB the contents API answers with encoding "none" and no content.
    const blob = await requestOrNull<{ content: string; encoding: string; size: number }>(gh, "GET /repos/{owner}/{repo}/git/blobs/{file_sha}", {
      owner: at.owner,
      repo: at.repo,
      file_sha: data.sha,
    });
    if (blob === null) return { kind: "absent" };
    if (blob.size >= maxBytes) return { kind: "too-large", size: blob.size, sha: data.sha };
    bytes = decode(blob.content, blob.encoding);
    if (bytes === null) throw new Error(`${path}: blob ${data.sha} came back in an unknown encoding "${blob.encoding}"`);
  }
  if (bytes.length >= maxBytes) return { kind: "too-large", size: bytes.length, sha: data.sha };
  return { kind: "file", text: new TextDecoder("utf-8").decode(bytes), bytes, sha: data.sha, size: bytes.length };
}

/** Names and types of the entries of a folder at `ref`; empty when the folder does not exist. */
export async function listRepoDir(gh: GitHubClient, at: RepoCoordinates, path: string, ref: string): Promise<{ name: string; path: string; type: string; size: number }[]> {
  const data = await requestOrNull<ContentEntry | ContentEntry[]>(gh, "GET /repos/{owner}/{repo}/contents/{path}", {
    owner: at.owner,
    repo: at.repo,
    path,
    ref,
  });
  if (!Array.isArray(data)) return [];
  return data.map((e) => ({ name: e.name, path: e.path, type: e.type, size: e.size }));
}
