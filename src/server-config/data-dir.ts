/**
 * The local data folder (`CLUTCH_LUIGI_DATA_DIR`) holds the embedded database and the
 * generated signing and encryption keys. It is made with a `.gitignore` of its own, so
 * that `git add -A` in an ops repository, where people run the CLI, can never commit a key.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const DATA_DIR_GITIGNORE = "# Made by clutch-luigi: keys and the embedded database; never commit these.\n*\n";

export function makeDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    // `wx`: a .gitignore someone edited is theirs to keep.
    writeFileSync(join(dir, ".gitignore"), DATA_DIR_GITIGNORE, { flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
}
