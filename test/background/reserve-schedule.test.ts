// Reserve schedules, readiness and the build circuit against the simulator, with the keeper's
// clock under the test's control (no real waiting for a schedule: only for the simulator's
// 200 ms builds).
// - The simulated day of issue 16: a pool with a 8:00-18:00 window of 20 and a default of 2
//   holds 20 ACTIVE free desktops at 8:00 and is back to 2 by 18:30, at a bounded rate, never
//   releasing a desktop someone holds or has a session on.
// - The admin API: reserve_schedule validated (400 envelope), the reserve's target in effect
//   and next change; a window's max_instances caps the pool.
// - Readiness: an ACTIVE instance is handed out only once ready (boot grace, or its port
//   answering in tcp mode).
// - The build circuit opens after reserve.circuitFailures failed builds with Nova's fault in
//   the reserve, then probes with one build (half-open) and closes when it is ACTIVE.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { NO_FAULTS } from "../../src/simulator/server.ts";
import { api, assertError } from "../admin/api.ts";
import { finished, makeInstances, makePool, makeUser, requestVm } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

function useStack(overrides: Record<string, unknown>, sim: Record<string, unknown> = {}) {
  const env = { s: undefined as unknown as Stack };
  before(async () => {
    env.s = await startStack({ workers: { enabled: false }, ...overrides }, { sim });
    Object.assign(env.s.sim.ctx.faults, NO_FAULTS);
  });
  after(async () => {
    await env.s?.stop();
  });
  return env;
}

/** The admin port's /metrics. */
async function scrape(s: Stack): Promise<string> {
  const res = await s.runtime.admin!.inject({ method: "GET", url: "/metrics" });
  assert.equal(res.statusCode, 200, res.body);
  return res.body;
}

/** Free instances of the pool in our records, by status. */
async function freeOf(s: Stack, poolId: string) {
  return s.runtime.deps.repos.reserve.freeCounts(poolId);
}

/** Lets the simulator finish the pool's builds and copies their status into our records. */
async function settle(s: Stack, bg: ReturnType<typeof createBackground>, poolId: string) {
  for (let i = 0; ; i++) {
    await bg.buildWatcher.run();
    if ((await freeOf(s, poolId)).building === 0) return;
    assert.ok(i < 400, "the simulator's builds never finished");
    await sleep(25);
  }
}

describe("a simulated day of a reserve schedule", () => {
  const env = useStack({
    reserve: {
      intervalSeconds: 30,
      maxConcurrentBuilds: 1000,
      leadSeconds: 900,
      releasePerRun: 5,
      readiness: { mode: "none" },
    },
  });

  it("holds 20 ACTIVE free desktops at 8:00 and is back to 2 by 18:30", async () => {
    const s = env.s;
    const core = s.runtime.core as unknown as AdminCore;
    const { id } = await makePool(s, {
      min_reserve_vm: 2,
      reserve_schedule: {
        windows: [
          {
            days: ["mon", "tue", "wed", "thu", "fri"],
            start: "08:00",
            end: "18:00",
            time_zone: "Europe/Paris",
            target: 20,
          },
        ],
        holidays: ["2026-12-25"],
      },
    });
    await s.runtime.deps.cloud.nova.setQuotas(id, { instances: -1, cores: -1, ram: -1 });
    // Monday 7 December 2026 in Paris (UTC+1): 06:00 local is 05:00 UTC.
    let clock = new Date("2026-12-07T05:00:00Z");
    const bg = createBackground(s.runtime.deps, core, { now: () => clock, adoptAfterSeconds: 3600 });
    const local = (hhmm: string) => new Date(`2026-12-07T${hhmm}:00+01:00`);
    const seen: Record<string, { active: number; building: number }> = {};
    const held: string[] = [];
    let createdAtAll = 0;
    const nova = s.runtime.deps.cloud.nova;
    const create = nova.createServers.bind(nova);
    nova.createServers = async (input) => {
      if (input.projectId === id) createdAtAll += input.minCount ?? 1;
      return create(input);
    };

    // The keeper runs every five simulated minutes from 06:00 to 19:00.
    for (let t = local("06:00").getTime(); t <= local("19:00").getTime(); t += 5 * 60_000) {
      clock = new Date(t);
      await bg.keeper.run();
      await settle(s, bg, id);
      const hhmm = clock.toLocaleTimeString("en-GB", {
        timeZone: "Europe/Paris",
        hour: "2-digit",
        minute: "2-digit",
      });
      seen[hhmm] = await freeOf(s, id);
      if (hhmm === "12:00") {
        // Two users take a desktop at noon, one of them opens a session: the reserve refills
        // behind them, and neither desktop is ever released.
        for (const user of ["alice", "bob"]) {
          const got = await core.repos.holders.claimFree(id, `${user}-${id}`, { actor: "test" });
          assert.ok(got, `${user} got no desktop`);
          held.push(got);
        }
        await s.runtime.store.db
          .insertInto("sessions")
          .values({ id: randomUUID(), instance_id: held[0], user_id: `alice-${id}`, rule_ids: "[]" })
          .execute();
      }
    }

    assert.deepEqual(seen["06:00"], { active: 2, building: 0 });
    assert.deepEqual(seen["07:40"], { active: 2, building: 0 }, "filled before the lead time");
    assert.deepEqual(seen["07:45"], { active: 20, building: 0 }, "the lead time: filled 15 minutes ahead");
    assert.deepEqual(seen["08:00"], { active: 20, building: 0 });
    assert.deepEqual(seen["12:05"], { active: 20, building: 0 }, "refilled behind the two users");
    assert.deepEqual(seen["17:55"], { active: 20, building: 0 });
    // At 18:00 the surplus goes, five per run: 18 free too many.
    assert.deepEqual(seen["18:00"], { active: 15, building: 0 });
    assert.deepEqual(seen["18:05"], { active: 10, building: 0 });
    assert.deepEqual(seen["18:15"], { active: 2, building: 0 });
    assert.deepEqual(seen["18:30"], { active: 2, building: 0 });
    assert.deepEqual(seen["19:00"], { active: 2, building: 0 });
    // 2 + 18 at 7:45 + 2 behind the users at noon; nothing more all day.
    assert.equal(createdAtAll, 22);
    // Every free desktop at 8:00 was ACTIVE in Nova too, and the held ones are still there.
    const servers = await nova.listServers({ projectId: id });
    const live = servers.filter((x) => x.status === "ACTIVE").map((x) => x.id);
    for (const h of held) {
      assert.ok(live.includes(h), `held desktop ${h} was released`);
      assert.equal((await core.repos.instances.get(h))?.deleted_at, null);
    }
    assert.equal(await s.runtime.deps.repos.reserve.liveCount(id), 4);
    assert.equal((await core.repos.pools.get(id))?.reserve_state, "ok");

    // Christmas is a holiday: the window does not open, the reserve stays at 2.
    for (const hhmm of ["07:45", "08:00", "12:00"]) {
      clock = new Date(`2026-12-25T${hhmm}:00+01:00`);
      await bg.keeper.run();
      await settle(s, bg, id);
      assert.deepEqual(await freeOf(s, id), { active: 2, building: 0 }, `25 December ${hhmm}`);
    }
  });

  it("without a schedule, never releases what an operator made beyond min_reserve_vm", async () => {
    const s = env.s;
    const core = s.runtime.core as unknown as AdminCore;
    const { id } = await makePool(s, { min_reserve_vm: 1 });
    await makeInstances(s, id, 4);
    const bg = createBackground(s.runtime.deps, core, { adoptAfterSeconds: 3600 });
    await settle(s, bg, id);
    for (let run = 0; run < 3; run++) await bg.keeper.run();
    assert.deepEqual(await freeOf(s, id), { active: 4, building: 0 });
    assert.equal(await s.runtime.deps.repos.reserve.liveCount(id), 4);
  });
});

describe("reserve_schedule through the admin API", () => {
  const env = useStack({
    reserve: {
      intervalSeconds: 30,
      maxConcurrentBuilds: 1000,
      leadSeconds: 900,
      readiness: { mode: "none" },
    },
  });

  it("refuses a bad schedule with the error envelope, and leaves the pool as it was", async () => {
    const call = api(env.s);
    const { id } = await makePool(env.s, { min_reserve_vm: 1 });
    const window = { days: ["mon"], start: "08:00", end: "18:00", time_zone: "Europe/Paris", target: 5 };
    const bad: [unknown, RegExp][] = [
      [{ windows: [{ ...window, days: ["monday"] }] }, /days/],
      [{ windows: [{ ...window, start: "8:00" }] }, /start/],
      [{ windows: [{ ...window, end: "25:00" }] }, /end/],
      [{ windows: [{ ...window, end: "08:00" }] }, /same time/],
      [{ windows: [{ ...window, time_zone: "Mars/Olympus_Mons" }] }, /time zone/],
      [{ windows: [{ ...window, target: -1 }] }, /target/],
      [{ windows: [{ ...window, max_instances: 2 }] }, /max_instances/],
      [{ windows: [window], holidays: ["2026-02-30"] }, /holidays/],
      [{ windows: [window], extra: 1 }, /.+/],
      ["every day", /.+/],
    ];
    for (const [schedule, message] of bad) {
      const res = await call("PUT", `/v1/projects/${id}`, {
        body: { project: { reserve_schedule: schedule } },
      });
      assertError(res, 400);
      assert.match(res.body.error.message, message, JSON.stringify(schedule));
    }
    const shown = await call("GET", `/v1/projects/${id}`);
    assert.equal(shown.body.project.reserve_schedule, null);
  });

  it("shows the schedule, the target in effect and the next change; null removes it", async () => {
    const call = api(env.s);
    const { id } = await makePool(env.s, { min_reserve_vm: 1 });
    // A window opening two hours from now (UTC), every day: the target changes 15 minutes
    // (the lead) before it opens.
    const opens = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 2 * 3600_000);
    const hhmm = opens.toISOString().slice(11, 16);
    const closes = new Date(opens.getTime() + 3600_000).toISOString().slice(11, 16);
    const schedule = {
      windows: [{ days: EVERY_DAY, start: hhmm, end: closes, time_zone: "UTC", target: 7, max_instances: 9 }],
      holidays: [],
    };
    const put = await call("PUT", `/v1/projects/${id}`, {
      body: { project: { reserve_schedule: schedule } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.project.reserve_schedule, schedule);
    assert.equal(put.body.project.min_reserve_vm, 1);
    assert.equal(put.body.project.reserve.target, 1);
    assert.deepEqual(put.body.project.reserve.next_change, {
      at: new Date(opens.getTime() - 900_000).toISOString().slice(0, 19),
      target: 7,
    });
    // A window open all day, every day: its target is in effect, and never changes.
    const always = {
      windows: [{ days: EVERY_DAY, start: "00:00", end: "24:00", time_zone: "Asia/Tokyo", target: 3 }],
    };
    const put2 = await call("PUT", `/v1/projects/${id}`, { body: { project: { reserve_schedule: always } } });
    assert.equal(put2.status, 200, JSON.stringify(put2.body));
    assert.equal(put2.body.project.reserve.target, 3);
    assert.equal(put2.body.project.reserve.next_change, null);
    const listed = await call("GET", "/v1/projects");
    const mine = listed.body.projects.find((p: { id: string }) => p.id === id);
    assert.equal(mine.reserve.target, 3);
    // The metric follows the target in effect.
    const text = await scrape(env.s);
    assert.match(text, new RegExp(`rs_reserve_target_instances\\{pool="${id}"\\} 3`));
    const cleared = await call("PUT", `/v1/projects/${id}`, {
      body: { project: { reserve_schedule: null } },
    });
    assert.equal(cleared.body.project.reserve_schedule, null);
    assert.equal(cleared.body.project.reserve.target, 1);
  });

  it("a window's max_instances caps the pool's live instances", async () => {
    const s = env.s;
    const core = s.runtime.core as unknown as AdminCore;
    const { id } = await makePool(s, {
      min_reserve_vm: 0,
      reserve_schedule: {
        windows: [
          { days: EVERY_DAY, start: "00:00", end: "24:00", time_zone: "UTC", target: 6, max_instances: 6 },
        ],
      },
    });
    await s.runtime.deps.cloud.nova.setQuotas(id, { instances: -1, cores: -1, ram: -1 });
    // Two instances of the pool held by users: with them, 4 more reach the cap of 6.
    for (const [k, vm] of (await makeInstances(s, id, 2)).entries()) {
      await s.runtime.store.db
        .insertInto("instance_users")
        .values({ instance_id: vm, user_id: `u${k}` })
        .execute();
    }
    const bg = createBackground(s.runtime.deps, core);
    const outcome = await bg.keeper.refill((await core.repos.pools.get(id))!);
    assert.equal(outcome?.created, 4);
    assert.equal(outcome?.limitedBy, "max_instances");
    const row = await core.repos.pools.get(id);
    assert.equal(row?.reserve_state, "throttled");
    assert.match(row?.reserve_message ?? "", /max_instances \(6\)/);
  });
});

describe("readiness", () => {
  const env = useStack({
    reserve: {
      intervalSeconds: 30,
      maxConcurrentBuilds: 1000,
      readiness: { mode: "grace", bootGraceSeconds: 3600 },
    },
  });

  /** A pool of one free desktop, built by the keeper and ACTIVE, still in its hour's grace. */
  async function oneInGrace() {
    const s = env.s;
    const core = s.runtime.core as unknown as AdminCore;
    const { id } = await makePool(s, { min_reserve_vm: 1 });
    const bg = createBackground(s.runtime.deps, core);
    await bg.keeper.run();
    await settle(s, bg, id);
    return { s, core, id };
  }

  it("grace: an ACTIVE instance is not handed out before its boot grace has passed", async () => {
    const { s, core, id } = await oneInGrace();
    assert.deepEqual(await freeOf(s, id), { active: 1, building: 0 });
    const [row] = await s.runtime.store.db
      .selectFrom("instances")
      .select(["id", "active_at", "ready_at"])
      .where("pool_id", "=", id)
      .execute();
    assert.ok(row.active_at && row.ready_at);
    assert.equal(row.ready_at.getTime() - row.active_at.getTime(), 3600_000);
    assert.equal(await core.repos.holders.claimFree(id, "carol", { actor: "test" }), undefined);
    const shown = (await core.pools.show(id, false)).reserve;
    assert.equal(shown?.free, 1);
    assert.equal(shown?.ready, 0);
    // Once the grace has passed (moved back, in place of an hour's wait), it is handed out.
    await s.runtime.store.db
      .updateTable("instances")
      .set({ ready_at: new Date(Date.now() - 1000) })
      .where("id", "=", row.id)
      .execute();
    assert.equal(await core.repos.holders.claimFree(id, "carol", { actor: "test" }), row.id);
  });

  it("grace: a user asking meanwhile gets that desktop once it is ready, and nothing new is built", async () => {
    const { s, id } = await oneInGrace();
    const [row] = await s.runtime.store.db
      .selectFrom("instances")
      .select("id")
      .where("pool_id", "=", id)
      .execute();
    // Ready in 2 s (in place of the hour's grace): worth waiting for, rather than a new build.
    const readyAt = new Date(Date.now() + 2000);
    await s.runtime.store.db
      .updateTable("instances")
      .set({ ready_at: readyAt })
      .where("id", "=", row.id)
      .execute();
    const u = await makeUser(s, [id]);
    const { requestId, token } = await requestVm(s, u);
    const done = await finished(s, token, requestId);
    assert.equal(done.body.status, "completed", JSON.stringify(done.body));
    assert.equal(done.body.server.id, row.id);
    assert.ok(!done.body.steps.some((x: { name: string }) => x.name === "create_instance"));
    const instances = await s.runtime.store.db
      .selectFrom("instances")
      .select("id")
      .where("pool_id", "=", id)
      .execute();
    assert.equal(instances.length, 1);
    const request = await s.runtime.store.db
      .selectFrom("requests")
      .select("completed_at")
      .where("id", "=", requestId)
      .executeTakeFirstOrThrow();
    assert.ok(request.completed_at && request.completed_at.getTime() >= readyAt.getTime() - 50);
  });
});

describe("readiness by TCP", () => {
  const env = { s: undefined as unknown as Stack, port: 0 };
  before(async () => {
    // A free port for the desktops' connection port, found before the stack is configured.
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    env.port = (probe.address() as { port: number }).port;
    probe.close();
    env.s = await startStack(
      {
        workers: { enabled: false },
        reserve: {
          intervalSeconds: 30,
          maxConcurrentBuilds: 1000,
          readiness: { mode: "tcp", port: env.port, timeoutMs: 500 },
        },
      },
      { sim: { instanceCidr: "127.0.101.0/24" } },
    );
  });
  after(async () => {
    await env.s?.stop();
  });

  it("tcp: an instance is ready once its connection port answers", async () => {
    const s = env.s;
    const core = s.runtime.core as unknown as AdminCore;
    const port = env.port;
    const { id } = await makePool(s, { min_reserve_vm: 1 });
    const bg = createBackground(s.runtime.deps, core);
    await bg.keeper.run();
    await settle(s, bg, id);
    const [row] = await s.runtime.store.db
      .selectFrom("instances")
      .select(["id", "fixed_ip", "ready_at"])
      .where("pool_id", "=", id)
      .where("deleted_at", "is", null)
      .execute();
    assert.match(row.fixed_ip ?? "", /^127\.0\.101\.\d+$/);
    // Nothing listens yet: not ready, not handed out.
    await bg.keeper.run();
    assert.equal((await core.repos.instances.get(row.id))?.ready_at, null);
    assert.equal(await core.repos.holders.claimFree(id, "dave", { actor: "test" }), undefined);
    // The desktop starts listening: the next run finds it ready.
    const desktop: Server = createServer((socket) => socket.end()).listen(port, row.fixed_ip!);
    await once(desktop, "listening");
    try {
      await bg.keeper.run();
      assert.ok((await core.repos.instances.get(row.id))?.ready_at);
      assert.equal(await core.repos.holders.claimFree(id, "dave", { actor: "test" }), row.id);
    } finally {
      desktop.close();
    }
  });
});

describe("the build circuit", () => {
  const env = useStack({
    reserve: {
      intervalSeconds: 10,
      maxConcurrentBuilds: 1000,
      circuitFailures: 3,
      readiness: { mode: "none" },
    },
  });

  const circuitOf = async (poolId: string) => {
    const text = await scrape(env.s);
    const m = new RegExp(`rs_reserve_circuit\\{pool="${poolId}"\\} (\\d+)`).exec(text);
    return m ? Number(m[1]) : undefined;
  };

  it("opens after N failed builds with Nova's fault, probes with one build, then closes", async () => {
    const s = env.s;
    const core = s.runtime.core as unknown as AdminCore;
    const { id } = await makePool(s, { min_reserve_vm: 2 });
    let clock = new Date();
    const bg = createBackground(s.runtime.deps, core, { now: () => clock, adoptAfterSeconds: 3600 });
    const pool = async () => (await core.repos.pools.get(id))!;
    const requests: number[] = [];
    const nova = s.runtime.deps.cloud.nova;
    const create = nova.createServers.bind(nova);
    nova.createServers = async (input) => {
      if (input.projectId === id) requests.push(input.minCount ?? 1);
      return create(input);
    };
    const failRound = async () => {
      await bg.keeper.run();
      for (let i = 0; ; i++) {
        const servers = await nova.listServers({ projectId: id });
        if (servers.length > 0 && servers.every((x) => x.status === "ERROR")) break;
        assert.ok(i < 400, "the builds never went to ERROR");
        await sleep(25);
      }
      await bg.buildWatcher.run();
      await bg.keeper.run();
      for (let i = 0; (await nova.listServers({ projectId: id })).length > 0; i++) {
        assert.ok(i < 400, "the broken servers were never deleted");
        await sleep(25);
      }
    };

    s.sim.ctx.faults.errorBuilds = true;
    // Two failed builds: below the threshold of three, the keeper tries again at once.
    await failRound();
    let row = await pool();
    assert.equal(row.reserve_state, "ok");
    assert.equal(row.reserve_failed_builds, 2);
    assert.match(row.reserve_message ?? "", /2 build\(s\) failed: .+; the build circuit opens after 3/);
    assert.equal(await circuitOf(id), 0);
    // Two more: four failed builds, the circuit opens, with Nova's fault in the reserve.
    await failRound();
    row = await pool();
    assert.equal(row.reserve_state, "backoff");
    assert.equal(row.reserve_failed_builds, 4);
    assert.ok(row.last_build_failure);
    assert.ok(row.reserve_message?.includes(row.last_build_failure), row.reserve_message ?? "");
    const shown = (await core.pools.show(id, false)).reserve;
    assert.equal(shown?.state, "backoff");
    assert.equal(await circuitOf(id), 2);
    assert.deepEqual(requests, [2, 2]);
    // Open: nothing is built during the back-off.
    await bg.keeper.run();
    assert.deepEqual(requests, [2, 2]);

    // Past the back-off, one probe build (half-open); it fails, the circuit opens for longer.
    clock = new Date(clock.getTime() + 3600_000);
    await failRound();
    assert.deepEqual(requests, [2, 2, 1]);
    row = await pool();
    assert.equal(row.reserve_state, "backoff");
    assert.equal(row.reserve_failures, 2);
    assert.equal(row.reserve_backoff_until!.getTime() - clock.getTime(), 10 * 2 ** 2 * 1000);

    // The builds recover: the probe goes ACTIVE, the circuit closes and the reserve fills.
    s.sim.ctx.faults.errorBuilds = false;
    clock = new Date(clock.getTime() + 3600_000);
    await bg.keeper.run();
    assert.deepEqual(requests, [2, 2, 1, 1]);
    assert.equal((await pool()).reserve_state, "half_open");
    assert.equal(await circuitOf(id), 1);
    await settle(s, bg, id);
    await bg.keeper.run();
    assert.deepEqual(requests, [2, 2, 1, 1, 1]);
    row = await pool();
    assert.equal(row.reserve_state, "ok");
    assert.equal(row.reserve_failures, 0);
    assert.equal(row.reserve_failed_builds, 0);
    assert.equal(await circuitOf(id), 0);
  });
});
