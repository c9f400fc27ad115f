// Faults (issue 12): users ask for desktops while the simulated cloud misbehaves — 20% of Nova,
// Neutron, Cinder and Glance requests answer 503 with added latency, then new servers go to
// ERROR, then Keystone is down for a while (the simulator's /sim/faults, with its admin token).
// Every request-vm answers a desktop request or a numbered code, every request ends completed
// or failed with its numbered code (never stuck, never code 1), no instance has two users and
// no user two instances of the Standard pool, and once the faults stop the pool's reserve is
// back to min_reserve_vm. Bounded: 16 users, a few seconds of each fault, loopback only.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { broker, login, makePool, makeUser, type Reply, type TestUser } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const ALLOCATION_CODES = new Set([3, 12, 13, 14, 17, 18, 25]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("faults in the cloud while users ask for desktops", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      admin: { enabled: false },
      reserve: { intervalSeconds: 1 },
      reconcile: { intervalSeconds: 2, buildWatchSeconds: 1 },
      allocation: { pollIntervalMs: 50, buildTimeoutSeconds: 8 },
    });
  });
  after(async () => {
    await s?.stop();
  });

  async function faults(set: Record<string, unknown>) {
    const res = await fetch(`${s.sim.url}/sim/faults`, {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-Auth-Token": s.adminToken },
      body: JSON.stringify(set),
    });
    assert.equal(res.status, 200, await res.text());
  }

  /** request-vm: a request id, or a numbered code other than 1 (21 while Keystone is down). */
  async function ask(
    u: TestUser,
  ): Promise<{ user: TestUser; requestId?: string; token?: string; code?: number }> {
    const res = await broker(s, "/v1/request-vm/", login(u));
    assert.ok(res.status < 500, JSON.stringify(res.body));
    if (res.status === 200)
      return { user: u, requestId: res.body.request_id, token: res.headers.get("x-auth-token")! };
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.notEqual(res.body.error.code, 1, JSON.stringify(res.body));
    return { user: u, code: res.body.error.code };
  }

  /** Polls get-vm until the request ends (bounded); 21 while Keystone is down is not an end. */
  async function ending(token: string, requestId: string): Promise<Reply> {
    for (let i = 0; i < 1200; i++) {
      const res = await broker(
        s,
        "/v1/get-vm/",
        { request: requestId },
        { Authorization: `Bearer ${token}` },
      );
      assert.ok(res.status < 500, JSON.stringify(res.body));
      if (res.status === 200 && res.body.status === "completed") return res;
      if (res.status === 400 && res.body.error.code !== 21) return res;
      await sleep(50);
    }
    throw new Error(`request ${requestId} never ended`);
  }

  it("every request ends completed or with its code, nothing is held twice, and the reserve recovers", async () => {
    const pool = await makePool(s, { min_reserve_vm: 3 });
    const users = await Promise.all(Array.from({ length: 16 }, () => makeUser(s, [pool.id])));

    // 20% errors and latency on every service but Keystone.
    await faults({ errorRate: 0.2, latencyMs: 20 });
    const asked = await Promise.all(users.slice(0, 8).map(ask));
    // New servers go to ERROR for a while.
    await faults({ errorBuilds: true });
    asked.push(...(await Promise.all(users.slice(8, 12).map(ask))));
    await sleep(1500);
    await faults({ errorBuilds: false });
    // Keystone down: request-vm cannot authenticate (21); running allocations carry on or fail
    // with their code.
    await faults({ keystoneDown: true });
    const refused = await Promise.all(users.slice(12).map(ask));
    for (const r of refused) assert.equal(r.code, 21, JSON.stringify(r));
    await sleep(2000);
    await faults({ keystoneDown: false });
    asked.push(...(await Promise.all(users.slice(12).map(ask))));
    await sleep(1000);
    await faults({ errorRate: 0, latencyMs: 0 });

    const outcomes: string[] = [];
    for (const a of asked) {
      if (!a.requestId) {
        outcomes.push(`refused ${a.code}`);
        continue;
      }
      const res = await ending(a.token!, a.requestId);
      if (res.status === 200) outcomes.push("completed");
      else {
        assert.ok(
          ALLOCATION_CODES.has(res.body.error.code),
          `request ${a.requestId}: ${JSON.stringify(res.body)}`,
        );
        outcomes.push(`failed ${res.body.error.code}`);
      }
    }
    const tally: Record<string, number> = {};
    for (const o of outcomes) tally[o] = (tally[o] ?? 0) + 1;
    console.log(`faults: ${JSON.stringify(tally)}`);
    assert.ok(outcomes.includes("completed"), "some users got a desktop despite the faults");

    const db = s.runtime.store.db;
    const shared = await sql<{ instance_id: string }>`
      SELECT iu.instance_id FROM instance_users iu JOIN instances i ON i.id = iu.instance_id
       WHERE i.pool_id = ${pool.id} AND i.deleted_at IS NULL
       GROUP BY iu.instance_id HAVING count(*) > 1`.execute(db);
    assert.deepEqual(shared.rows, [], "no instance has two users");
    const twice = await sql<{ user_id: string }>`
      SELECT iu.user_id FROM instance_users iu JOIN instances i ON i.id = iu.instance_id
       WHERE i.pool_id = ${pool.id} AND i.deleted_at IS NULL
       GROUP BY iu.user_id HAVING count(*) > 1`.execute(db);
    assert.deepEqual(twice.rows, [], "no user has two instances of the Standard pool");

    // Once the faults stop, the reserve keeper (and its back-off) brings the reserve back.
    let free = 0;
    for (let i = 0; i < 600 && free < 3; i++) {
      const row = await sql<{ n: string }>`
        SELECT count(*) AS n FROM instances i
         WHERE i.pool_id = ${pool.id} AND i.deleted_at IS NULL AND i.status = 'ACTIVE'
           AND NOT EXISTS (SELECT 1 FROM instance_users u WHERE u.instance_id = i.id)
           AND NOT EXISTS (SELECT 1 FROM instance_groups g WHERE g.instance_id = i.id)`.execute(db);
      free = Number(row.rows[0].n);
      if (free < 3) await sleep(250);
    }
    assert.ok(free >= 3, `the reserve has ${free} free ACTIVE instance(s), wants 3`);
  });
});
