import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import pino from "pino";
import type { Store } from "../../src/store/db.ts";
import { TaskEngine, type TaskEngineOptions } from "../../src/tasks/engine.ts";
import { createTestStore } from "../helpers/db.ts";
import { gate, silent, waitFor } from "./helpers.ts";

let store: Store;
const engines: TaskEngine[] = [];

before(async () => {
  store = await createTestStore();
});
after(async () => {
  for (const e of engines) await e.stop({ timeoutMs: 1000 });
  await store.close();
});

function engine(options: Partial<TaskEngineOptions> = {}) {
  const e = new TaskEngine({ store, logger: silent, leaseSeconds: 2, ...options });
  engines.push(e);
  return e;
}

async function job(id: string) {
  const { rows } = await sql<{ state: string; start_after: Date; now: Date }>`
    SELECT state, start_after, now() AS now FROM pgboss.job WHERE id = ${id}::uuid
    UNION ALL SELECT state, start_after, now() FROM pgboss.archive WHERE id = ${id}::uuid`.execute(store.db);
  return rows[0];
}

/** The engines' connections on this file's database (pg-boss's and the lease renewals'). */
const OF_ENGINES = sql`datname = current_database() AND application_name LIKE 'rs-server task%'`;
const engineConnections = () =>
  sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${OF_ENGINES}`
    .execute(store.db)
    .then((r) => r.rows[0].n);

const finished = (e: TaskEngine, id: string) =>
  waitFor(`task ${id} to finish`, async () => {
    const t = await e.get(id);
    return t && ["SUCCESS", "FAILURE", "REVOKED"].includes(t.status) ? t : undefined;
  });

describe("enqueue", () => {
  test("a worker runs the task: PENDING, then SUCCESS with the result as JSON text", async () => {
    const e = engine();
    e.register("add", (args: { a: number; b: number }) => ({ sum: args.a + args.b }));
    await e.start();
    const id = await e.enqueue("add", { a: 2, b: 3 });
    assert.match(id, /^[0-9a-f-]{36}$/);
    const pgJob = await job(id);
    assert.ok(pgJob, "the pg-boss job has the task's id");
    const task = await finished(e, id);
    assert.equal(task.status, "SUCCESS");
    assert.equal(task.result, '{"sum":5}');
    assert.equal(task.traceback, null);
    assert.equal(task.name, "add");
    assert.deepEqual(task.args, { a: 2, b: 3 });
    assert.ok(task.startedAt && task.finishedAt);
  });

  test("a task enqueued by a process without workers is run by another process", async () => {
    const producer = engine({ workers: false });
    await producer.start();
    const id = await producer.enqueue("greet", { who: "ops" });
    await producer.stop();
    assert.equal((await producer.get(id))?.status, "PENDING");

    const worker = engine();
    worker.register("greet", (args: { who: string }) => `hello ${args.who}`);
    await worker.start();
    const task = await finished(worker, id);
    assert.equal(task.status, "SUCCESS");
    assert.equal(task.result, '"hello ops"');
  });
});

describe("runNow (the warm path)", () => {
  test("runs the handler in this process without a worker, and leaves a delayed recovery job", async () => {
    const e = engine({ workers: false, leaseSeconds: 30 });
    let ranBy: string | undefined;
    e.register("warm", (_args, ctx) => {
      ranBy = `attempt ${ctx.attempt}`;
      return "done";
    });
    await e.start();
    const id = await e.runNow("warm", {});
    const task = await finished(e, id);
    assert.equal(task.status, "SUCCESS");
    assert.equal(ranBy, "attempt 1");
    const recovery = await job(id);
    assert.equal(recovery.state, "created");
    assert.ok(recovery.start_after.getTime() > recovery.now.getTime(), "recovery job starts later");
  });

  test("the recovery job is a no-op once the in-process run finished", async () => {
    const warm = engine({ workers: false, leaseSeconds: 1 });
    warm.register("once", () => "first");
    await warm.start();
    const id = await warm.runNow("once", {});
    await finished(warm, id);

    let reruns = 0;
    const worker = engine({ leaseSeconds: 1 });
    worker.register("once", () => {
      reruns++;
      return "second";
    });
    await worker.start();
    await waitFor("the recovery job to complete", async () => (await job(id))?.state === "completed");
    assert.equal(reruns, 0);
    const task = await worker.get(id);
    assert.equal(task?.result, '"first"');
    assert.equal(task?.attempt, 1);
  });

  test("the recovery job leaves a run alone while its lease is renewed", async () => {
    const warm = engine({ workers: false, leaseSeconds: 1 });
    const started = gate();
    const release = gate();
    warm.register("held", async () => {
      started.open();
      await release.promise;
      return "first";
    });
    await warm.start();
    const id = await warm.runNow("held", {});
    await started.promise;

    let reruns = 0;
    const worker = engine({ leaseSeconds: 1 });
    worker.register("held", () => {
      reruns++;
    });
    await worker.start();
    await waitFor("the recovery job to run", async () => (await job(id))?.state === "completed");
    assert.equal(reruns, 0, "re-ran a task whose runner is alive");
    release.open();
    const task = await finished(worker, id);
    assert.equal(task.result, '"first"');
  });

  test("an unregistered task is enqueued instead", async () => {
    const e = engine({ workers: false });
    await e.start();
    const id = await e.runNow("elsewhere", { x: 1 });
    assert.equal((await e.get(id))?.status, "PENDING");
  });
});

describe("failures and retries", () => {
  test("a failed attempt is retried (RETRY) and then succeeds", async () => {
    const e = engine();
    const seen: number[] = [];
    e.register(
      "flaky",
      (_args, ctx) => {
        seen.push(ctx.retries);
        if (ctx.retries < 2) throw new Error(`boom ${ctx.retries}`);
        return "ok";
      },
      { retryLimit: 2, retryDelaySeconds: 0 },
    );
    await e.start();
    const id = await e.runNow("flaky", {});
    const task = await finished(e, id);
    assert.equal(task.status, "SUCCESS");
    assert.deepEqual(seen, [0, 1, 2]);
    assert.equal(task.retries, 2);
    assert.equal(task.traceback, null);
  });

  test("retries exhausted: FAILURE with the error's message and stack as traceback", async () => {
    const e = engine();
    let calls = 0;
    e.register(
      "broken",
      () => {
        calls++;
        throw new TypeError("no such pool");
      },
      { retryLimit: 1, retryDelaySeconds: 0 },
    );
    await e.start();
    const id = await e.enqueue("broken", {});
    const task = await finished(e, id);
    assert.equal(task.status, "FAILURE");
    assert.equal(calls, 2);
    assert.equal(task.retries, 1);
    assert.equal(task.result, null);
    assert.match(task.traceback ?? "", /^TypeError: no such pool\n\s+at /);
  });

  test("a task waiting for its retry shows RETRY with the last error", async () => {
    const e = engine();
    e.register(
      "slow-retry",
      () => {
        throw new Error("quota exceeded");
      },
      { retryLimit: 1, retryDelaySeconds: 3600 },
    );
    await e.start();
    const id = await e.runNow("slow-retry", {});
    const task = await waitFor("RETRY", async () => {
      const t = await e.get(id);
      return t?.status === "RETRY" ? t : undefined;
    });
    assert.match(task.traceback ?? "", /quota exceeded/);
    assert.equal(task.retries, 1);
  });
});

describe("revoke", () => {
  test("a revoked pending task never runs", async () => {
    const producer = engine({ workers: false });
    await producer.start();
    const id = await producer.enqueue("never", {});
    assert.equal(await producer.revoke(id), true);

    let ran = false;
    const worker = engine();
    worker.register("never", () => {
      ran = true;
    });
    await worker.start();
    await waitFor("its job to be consumed", async () => (await job(id))?.state === "completed");
    assert.equal(ran, false);
    assert.equal((await worker.get(id))?.status, "REVOKED");
  });

  test("revoking a running task aborts its signal and its outcome is discarded", async () => {
    const e = engine({ workers: false });
    const started = gate();
    e.register("long", async (_args, ctx) => {
      started.open();
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      return "finished anyway";
    });
    await e.start();
    const id = await e.runNow("long", {});
    await started.promise;
    assert.equal(await e.revoke(id), true);
    await e.stop(); // waits for the handler and whatever it records
    const task = await e.get(id);
    assert.equal(task?.status, "REVOKED");
    assert.equal(task?.result, null);
    assert.equal(await e.revoke(id), false, "a finished task cannot be revoked again");
  });
});

describe("get and list", () => {
  test("list is newest first and bounded; unknown and malformed ids are not found", async () => {
    const e = engine({ workers: false });
    await e.start();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await e.enqueue("listed", { i }));
    const listed = (await e.list(3)).map((t) => t.id);
    assert.deepEqual(listed, ids.reverse());
    assert.equal((await e.list(2)).length, 2);
    assert.equal(await e.get("00000000-0000-4000-8000-000000000000"), undefined);
    assert.equal(await e.get("not-a-uuid"), undefined);
    assert.equal(await e.revoke("not-a-uuid"), false);
  });
});

describe("stop and restart", () => {
  test("stop waits for running handlers and records their outcome", async () => {
    const e = engine();
    const started = gate();
    const release = gate();
    e.register("drain", async () => {
      started.open();
      await release.promise;
      return "drained";
    });
    await e.start();
    const id = await e.enqueue("drain", {});
    await started.promise;
    let stopped = false;
    const stopping = e.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, "stop returned while a handler was running");
    release.open();
    await stopping;
    assert.equal((await e.get(id))?.status, "SUCCESS");
    await assert.rejects(e.enqueue("drain", {}), /stopped/);
  });

  test("a handler still running when stop gives up is run again by another process", async () => {
    const first = engine({ workers: false, leaseSeconds: 1 });
    const started = gate();
    first.register("handover", async (_args, ctx) => {
      started.open();
      await new Promise((_resolve, reject) =>
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
      );
    });
    await first.start();
    const id = await first.runNow("handover", {});
    await started.promise;
    await first.stop({ timeoutMs: 10 });
    assert.equal((await first.get(id))?.status, "STARTED", "not failed by its own abort");

    const second = engine({ leaseSeconds: 1 });
    second.register("handover", (_args, ctx) => `attempt ${ctx.attempt}`);
    await second.start();
    const task = await finished(second, id);
    assert.equal(task.status, "SUCCESS");
    assert.equal(task.result, '"attempt 2"');
  });

  test("a task whose process keeps dying is failed as lost", async () => {
    const first = engine({ workers: false, leaseSeconds: 1 });
    const started = gate();
    first.register("poison", async (_args, ctx) => {
      started.open();
      await new Promise((_resolve, reject) =>
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
      );
    });
    await first.start();
    const id = await first.runNow("poison", {});
    await started.promise;
    await first.stop({ timeoutMs: 10 });

    let ran = false;
    const second = engine({ leaseSeconds: 1, maxLostRuns: 0 });
    second.register("poison", () => {
      ran = true;
    });
    await second.start();
    const task = await finished(second, id);
    assert.equal(task.status, "FAILURE");
    assert.match(task.traceback ?? "", /TaskLost/);
    assert.equal(ran, false);
  });
});

describe("lost database connections", () => {
  test("an engine whose connections are terminated logs it, finishes its running task and takes new ones", async () => {
    // Only this test's engine on the database: the connections counted and terminated below
    // are its own (earlier tests' engines, with silent loggers, would otherwise match too).
    for (const other of engines.splice(0)) await other.stop({ timeoutMs: 1000 });
    // Their connections may linger in pg_stat_activity for a moment after the stop: counted
    // below, they would pass for this engine's, and terminating them would log nothing here.
    await waitFor("the earlier engines' connections to end", async () => (await engineConnections()) === 0);
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
    const e = engine({ logger, leaseSeconds: 1 });
    const started = gate();
    const release = gate();
    e.register("outlive", async (args: { n: number }) => {
      if (args.n === 1) {
        started.open();
        await release.promise;
      }
      return args.n;
    });
    await e.start();
    const first = await e.enqueue("outlive", { n: 1 });
    await started.promise;
    // pg-boss's pool and the lease connection (renewed every 1/3 s), not the test's store.
    // Exactly this engine's connections: its application names end with its worker id.
    const OF_THIS = sql`${OF_ENGINES} AND application_name LIKE ${`%${e.workerId}`.slice(0, 64)}`;
    const own = () =>
      sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${OF_THIS}`
        .execute(store.db)
        .then((r) => r.rows[0].n);
    // The lease connection itself, not just two of pg-boss's: pg-boss's idle ones may be closing
    // on their pool's idle timeout (10 s) at this very moment, and a client that is ending
    // reports no loss. The lease connection, renewed every 1/3 s, is never idle that long.
    const leases = () =>
      sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE ${OF_THIS} AND application_name LIKE 'rs-server task leases %'`
        .execute(store.db)
        .then((r) => r.rows[0].n);
    await waitFor("the lease connection", async () => (await leases()) === 1 && (await own()) >= 2);
    const { rows } = await sql<{ n: number }>`
      SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE ${OF_THIS}`.execute(store.db);
    assert.ok(rows[0].n >= 2, `terminated ${rows[0].n}`);
    try {
      // An idle connection reports its loss itself ("connection lost"); one cut in the middle of
      // a query (a lease renewal, pg-boss's poll) fails that query, which is logged instead.
      await waitFor("a log of the lost connections", async () =>
        lines.some((l) => /connection lost|terminating connection|Connection terminated/.test(l)),
      ).catch(async (err) => {
        // What there was instead, for whoever reads a failed run.
        const now = await sql<{ application_name: string; state: string }>`
          SELECT application_name, state FROM pg_stat_activity WHERE ${OF_ENGINES}`.execute(store.db);
        throw new Error(
          `${(err as Error).message}; terminated ${rows[0].n}; connections now ${JSON.stringify(now.rows)}; logged ${JSON.stringify(lines)}`,
        );
      });
      // Past a lease renewal on a new connection: the run still holds its claim.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      release.open();
    }
    assert.equal((await finished(e, first)).status, "SUCCESS");
    const second = await e.enqueue("outlive", { n: 2 });
    const task = await finished(e, second);
    assert.equal(task.status, "SUCCESS");
    assert.equal(task.result, "2");
  });
});

describe("a process killed mid-run", () => {
  for (const mode of ["runNow", "enqueue"] as const) {
    test(`(${mode}) another process runs the task once the lease lapses`, async () => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          new URL("./fixtures/hang-worker.ts", import.meta.url).pathname,
          store.url,
          mode,
          "1",
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      const id = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (chunk) => {
          out += chunk;
          const m = /started (\S+)\n/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on("exit", (code) => reject(new Error(`worker exited early (${code})`)));
      });
      const exited = new Promise((r) => child.on("exit", r));
      child.kill("SIGKILL");
      await exited;

      const survivor = engine({ leaseSeconds: 1 });
      survivor.register("hang", (_args, ctx) => ({ attempt: ctx.attempt }));
      await survivor.start();
      const task = await finished(survivor, id);
      assert.equal(task.status, "SUCCESS");
      assert.equal(task.result, '{"attempt":2}');
      const { worker } = await sql<{ worker: string }>`SELECT worker FROM tasks WHERE id = ${id}::uuid`
        .execute(store.db)
        .then((r) => r.rows[0]);
      assert.equal(worker, survivor.workerId);
      await survivor.stop();
    });
  }
});
