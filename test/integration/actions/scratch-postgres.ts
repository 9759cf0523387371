/**
 * A throwaway Postgres cluster that enforces SCRAM password authentication. The
 * shared local server trusts every TCP connection from 127.0.0.1, so on it "the old
 * password stops working" cannot be observed; this cluster can show it.
 */
import { execFile } from "node:child_process";
import { chown, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

async function binDir(): Promise<string> {
  try {
    return (await run("pg_config", ["--bindir"])).stdout.trim();
  } catch {
    const versions = (await readdir("/usr/lib/postgresql")).sort((a, b) => Number(b) - Number(a));
    if (!versions[0]) throw new Error("no Postgres server binaries found (pg_config or /usr/lib/postgresql)");
    return `/usr/lib/postgresql/${versions[0]}/bin`;
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface ScratchPostgres {
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
}

export async function startScratchPostgres(): Promise<ScratchPostgres> {
  const bin = await binDir();
  const dir = await mkdtemp(join(tmpdir(), "cl-scratch-pg-"));
  const data = join(dir, "data");
  const pwfile = join(dir, "pw");
  const password = `scratch-${Math.random().toString(36).slice(2)}-admin`;
  await writeFile(pwfile, `${password}\n`, { mode: 0o644 });
  // initdb refuses to run as root: run the server as the postgres account then.
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (cmd: string, args: string[]) => (asRoot ? run("runuser", ["-u", "postgres", "--", cmd, ...args]) : run(cmd, args));
  await as(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "-N", "-E", "UTF8"]);
  const port = await freePort();
  await as(join(bin, "pg_ctl"), ["-D", data, "-w", "-l", join(dir, "log"), "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  return {
    port,
    user: "postgres",
    password,
    async stop() {
      await as(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "stop"]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
