/**
 * One subcommand of `clutch-luigi`. Commands take their streams and environment
 * as arguments so tests can run them in-process and read exactly what a user sees.
 */
export interface CliIO {
  stdout: { write(chunk: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(chunk: string): unknown };
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM; long-running commands (run, worker) stop cleanly. */
  signal?: AbortSignal;
}

export interface Command {
  name: string;
  /** One line for `clutch-luigi --help`. */
  summary: string;
  /** Full usage text for `clutch-luigi <name> --help`. */
  usage: string;
  /** Returns the process exit code: 0 success, 1 a negative result (invalid, not approved), 2 usage error. */
  run(argv: string[], io: CliIO): Promise<number>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A file the user named does not exist: the same message and exit status (2) from every command. */
export class MissingFileError extends Error {
  constructor(readonly file: string) {
    super(`no such file: ${file}`);
    this.name = "MissingFileError";
  }
}
