// A crash of rs-server (SIGKILL of its whole process group, as a supervisor or the OOM killer
// does) must not leave it unable to start: the embedded PostgreSQL, in a group of its own so
// that Ctrl-C does not cut it under rs-server, stops by itself once its parent is gone, and a
// start that finds one still running on its data directory stops it and comes up.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { freePort } from "../../src/store/embedded.ts";
import {
  alive,
  healthy,
  postmasterPid,
  type ServerProcess,
  spawnServer,
  stopLeftoverPostgres,
} from "../helpers/server-process.ts";

let dataDir: string;
const servers: ServerProcess[] = [];

async function start(opts: { group?: boolean } = {}) {
  const admin = await freePort();
  const s = spawnServer({
    args: ["src/main.ts", "--data-dir", dataDir],
    env: { RS_SERVER_ADMIN_PORT: String(admin), RS_SERVER_BROKER_PORT: String(await freePort()) },
    group: opts.group,
  });
  servers.push(s);
  return { s, admin };
}

/** Waits (bounded) until pid is gone; false if it is still there after `ms`. */
async function gone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return !alive(pid);
}

before(() => {
  dataDir = mkdtempSync(join(tmpdir(), "rs-crash-"));
});

after(async () => {
  for (const s of servers)
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
  await Promise.all(servers.map((s) => s.exited));
  await stopLeftoverPostgres(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

test("after a SIGKILL of rs-server's process group its embedded PostgreSQL stops by itself", async () => {
  const { s, admin } = await start({ group: true });
  await healthy(s, admin);
  const pg = postmasterPid(dataDir);
  assert.ok(pg && alive(pg), "no embedded PostgreSQL running");
  process.kill(-s.child.pid!, "SIGKILL");
  await s.exited;
  assert.ok(await gone(pg, 60_000), `PostgreSQL ${pg} still runs a minute after its parent was killed`);
});

test("a start that finds the killed server's PostgreSQL still running stops it and comes up", async () => {
  const first = await start({ group: true });
  await healthy(first.s, first.admin);
  const pg = postmasterPid(dataDir)!;
  const owner = JSON.parse(readFileSync(join(dataDir, "pg-owner.json"), "utf8")) as { watchdog: number };
  // Everything but PostgreSQL dies: the group, and the watchdog that would have stopped it.
  process.kill(-first.s.child.pid!, "SIGKILL");
  process.kill(owner.watchdog, "SIGKILL");
  await first.s.exited;
  assert.ok(alive(pg), "the orphan is gone before the test could restart on it");

  const second = await start();
  await healthy(second.s, second.admin);
  assert.equal(alive(pg), false, "the orphan still runs beside the new PostgreSQL");
  assert.match(second.s.output(), new RegExp(`stopping the embedded PostgreSQL \\(pid ${pg}`));
  second.s.child.kill("SIGTERM");
  assert.deepEqual(await second.s.exited, { code: 0, signal: null }, second.s.output());
});

test("a second server on a data directory in use says which process holds it, in one line", async () => {
  const first = await start();
  await healthy(first.s, first.admin);
  const second = await start();
  const exit = await second.s.exited;
  assert.deepEqual(exit, { code: 1, signal: null }, second.s.output());
  assert.match(
    second.s.output(),
    new RegExp(`belongs to rs-server process ${first.s.child.pid}, which is still running`),
  );
  assert.doesNotMatch(second.s.output(), /^\s+at /m);
  assert.ok(alive(first.s.child.pid!));
  await healthy(first.s, first.admin);
  first.s.child.kill("SIGTERM");
  assert.deepEqual(await first.s.exited, { code: 0, signal: null }, first.s.output());
});
