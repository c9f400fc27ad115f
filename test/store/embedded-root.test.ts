// As root, the embedded PostgreSQL runs as the "postgres" system user, who cannot enter a
// directory only root may enter (root's home is mode 0700): its binaries are then copied, and
// its data kept, where that user can reach them, and it starts there (and again on restart).
// Only meaningful as root (CI runs as root); skipped otherwise.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import pg from "pg";
import { startEmbeddedPostgres } from "../../src/store/embedded.ts";
import { packagedBinaries, postgresAccount, reachableBinaries } from "../../src/store/embedded-account.ts";

const asRoot = process.getuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), "rs-root-"));
// The stand-in for /var/lib: open to everyone, as it is (mkdtemp makes it 0700).
chmodSync(work, 0o755);
after(() => rmSync(work, { recursive: true, force: true }));

/** A directory like /root: mode 0700, owned by root. */
function closedDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

async function query(url: string, text: string) {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

test("binaries in a 0700 directory are copied where the postgres user can run them", {
  skip: !asRoot,
}, () => {
  const account = postgresAccount();
  const packaged = packagedBinaries();
  const hidden = join(closedDir("clone"), "native");
  cpSync(packaged.home, hidden, { recursive: true, verbatimSymlinks: true });
  const inClone = {
    ...packaged,
    home: hidden,
    postgres: join(hidden, "bin", "postgres"),
    initdb: join(hidden, "bin", "initdb"),
  };
  const asPostgres = (bin: string) =>
    spawnSync(bin, ["--version"], { uid: account.uid, gid: account.gid, cwd: "/", encoding: "utf8" });
  assert.notEqual(
    asPostgres(inClone.postgres).status,
    0,
    "the postgres user runs binaries in a 0700 directory",
  );
  const systemDir = join(work, "system");
  const copy = reachableBinaries(account, inClone, systemDir);
  assert.ok(copy.postgres.startsWith(systemDir), copy.postgres);
  const run = asPostgres(copy.postgres);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /PostgreSQL/);
});

test("a data directory inside a 0700 directory starts, keeps its data, and starts again", {
  skip: !asRoot,
}, async () => {
  const dataDir = join(closedDir("home"), ".data");
  const systemDir = join(work, "system");
  const first = await startEmbeddedPostgres(dataDir, { systemDir });
  try {
    await query(first.url("postgres"), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('here')");
  } finally {
    await first.stop();
  }
  const link = join(dataDir, "pg");
  assert.ok(lstatSync(link).isSymbolicLink(), "<dataDir>/pg does not say where the data went");
  assert.ok(realpathSync(link).startsWith(systemDir));
  const second = await startEmbeddedPostgres(dataDir, { systemDir });
  try {
    assert.deepEqual(await query(second.url("postgres"), "SELECT v FROM kept"), [{ v: "here" }]);
  } finally {
    await second.stop();
  }
});

test("where no place can be made for it, the start fails with one line that says what to do", {
  skip: !asRoot,
}, async () => {
  const dataDir = join(closedDir("nowhere"), ".data");
  // A system directory that cannot be created (its parent is a file), as on a read-only /var.
  const blocker = join(work, "a-file");
  writeFileSync(blocker, "");
  await assert.rejects(
    startEmbeddedPostgres(dataDir, { systemDir: join(blocker, "embedded") }),
    (err: Error) => {
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, /run rs-server as an ordinary user.*or set database\.url/);
      return true;
    },
  );
});
