import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { after, before, test } from "node:test";
import type { Store } from "../../src/store/db.ts";
import { PeriodicJobRepository } from "../../src/store/tasks.ts";
import { Scheduler, type SchedulerOptions } from "../../src/tasks/scheduler.ts";
import { createTestStore } from "../helpers/db.ts";
import { gate, silent, waitFor } from "./helpers.ts";

let store: Store;
const schedulers: Scheduler[] = [];

before(async () => {
  store = await createTestStore();
});
after(async () => {
  for (const s of schedulers) await s.stop({ timeoutMs: 1000 });
  await store.close();
});

/** A scheduler whose loop does not tick on its own during the test (tickMs of an hour). */
function scheduler(options: Partial<SchedulerOptions> = {}) {
  const s = new Scheduler({
    jobs: new PeriodicJobRepository(store.db),
    logger: silent,
    tickMs: 3_600_000,
    ...options,
  });
  schedulers.push(s);
  return s;
}

test("two schedulers: a due period runs once, a trigger makes exactly one more run", async () => {
  const a = scheduler();
  const b = scheduler();
  const runs: string[] = [];
  a.every("once", 3600, () => {
    runs.push("a");
  });
  b.every("once", 3600, () => {
    runs.push("b");
  });
  const passes = () => Promise.all([a.runDue(), b.runDue(), a.runDue(), b.runDue()]);
  await Promise.all([a.start(), b.start()]);
  await passes();
  await waitFor("the first run", async () => runs.length >= 1);
  await passes();
  await Promise.all([a.idle(), b.idle()]);
  assert.equal(runs.length, 1, `ran ${runs.join(",")}`);

  assert.equal(await b.trigger("once"), true);
  await passes();
  await waitFor("the triggered run", async () => runs.length >= 2);
  await passes();
  await Promise.all([a.idle(), b.idle()]);
  assert.equal(runs.length, 2, `ran ${runs.join(",")}`);
});

test("a run in progress is never run twice at once, even when triggered; the trigger runs after it", async () => {
  const a = scheduler();
  const b = scheduler();
  const started = gate();
  const release = gate();
  const runs: string[] = [];
  let active = 0;
  let maxActive = 0;
  const track = async (who: string, wait?: Promise<void>) => {
    runs.push(who);
    active++;
    maxActive = Math.max(maxActive, active);
    started.open();
    await wait;
    active--;
  };
  a.every("exclusive", 3600, () => track("a", runs.length === 0 ? release.promise : undefined));
  b.every("exclusive", 3600, () => track("b"));
  await a.start();
  await started.promise;
  await b.start();
  assert.equal(await b.trigger("exclusive"), true);
  assert.deepEqual(await b.runDue(), [], "claimed while running elsewhere");
  assert.deepEqual(runs, ["a"]);
  release.open();
  await waitFor("the triggered run", async () => {
    await b.runDue();
    return runs.length >= 2;
  });
  await Promise.all([a.idle(), b.idle()]);
  assert.equal(runs.length, 2);
  assert.equal(maxActive, 1);
});

test("running loops on two schedulers: runs never overlap and start at least one period apart", async () => {
  const repo = new PeriodicJobRepository(store.db);
  const period = 0.3;
  const starts: Date[] = [];
  let active = 0;
  let maxActive = 0;
  const fn = async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    const row = await repo.get("tick");
    if (row?.last_started_at) starts.push(row.last_started_at);
    active--;
  };
  const a = scheduler({ tickMs: 50 });
  const b = scheduler({ tickMs: 50 });
  a.every("tick", period, fn);
  b.every("tick", period, fn);
  await Promise.all([a.start(), b.start()]);
  await waitFor("five runs", async () => starts.length >= 5);
  await Promise.all([a.stop(), b.stop()]);
  assert.equal(maxActive, 1);
  for (let i = 1; i < starts.length; i++) {
    const gap = starts[i].getTime() - starts[i - 1].getTime();
    assert.ok(gap >= period * 1000, `runs ${i - 1} and ${i} started ${gap} ms apart`);
  }
});

test("a failing run is recorded and the job keeps its schedule", async () => {
  const repo = new PeriodicJobRepository(store.db);
  const a = scheduler();
  let calls = 0;
  a.every("fails", 3600, () => {
    calls++;
    throw new Error("nova unreachable");
  });
  await a.start();
  const row = await waitFor("the failed run to be recorded", async () => {
    const r = await repo.get("fails");
    return r?.last_finished_at ? r : undefined;
  });
  assert.equal(calls, 1);
  assert.match(row?.last_error ?? "", /nova unreachable/);
  assert.equal(row?.running_until, null);
  assert.ok(row && row.next_run_at.getTime() > Date.now() + 3000 * 1000);
  await a.trigger("fails");
  await waitFor("the triggered run", async () => calls >= 2);
  assert.equal(calls, 2);
});

test("trigger of a job nobody registered answers false", async () => {
  const a = scheduler();
  assert.equal(await a.trigger("nobody"), false);
});

test("a start takes over at once the runs of a process of this host that is gone, not of a live one or another host", async () => {
  const repo = new PeriodicJobRepository(store.db);
  // A pid that existed and is gone (a killed server's), a live one (the test runner's parent).
  const dead = spawnSync(process.execPath, ["-e", ""]).pid;
  const held: Record<string, string> = {
    "held-dead": `${hostname()}:${dead}:0badc0de`,
    "held-live": `${hostname()}:${process.ppid}:0badc0de`,
    "held-elsewhere": `another-host.invalid:${dead}:0badc0de`,
  };
  for (const [name, worker] of Object.entries(held)) {
    await repo.upsert(name, 3600);
    const [claim] = await repo.claimDue([name], worker, 3600, 1);
    assert.ok(claim, `${name} claimed by ${worker}`);
    // Due again: only the lease keeps it from running.
    await repo.trigger(name);
  }
  const a = scheduler();
  const runs: string[] = [];
  for (const name of Object.keys(held))
    a.every(name, 3600, () => {
      runs.push(name);
    });
  await a.start();
  await a.runDue();
  await waitFor("the dead process's job to run", async () => runs.includes("held-dead"));
  await a.runDue();
  await a.idle();
  assert.deepEqual(runs, ["held-dead"]);
  assert.equal((await repo.get("held-live"))?.last_worker, held["held-live"]);
  assert.equal((await repo.get("held-elsewhere"))?.last_worker, held["held-elsewhere"]);
});
