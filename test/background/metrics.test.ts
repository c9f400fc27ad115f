// /metrics on the admin port: Prometheus text without a token, with the reserve vs target per
// pool, builds in flight, open sessions, the task queue, reconciler actions, allocation
// latency and HTTP latency by route pattern.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { observeAllocation } from "../../src/core/metrics.ts";
import { makePool } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("metrics", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ workers: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });

  async function scrape(): Promise<string> {
    const res = await s.runtime.admin!.inject({ method: "GET", url: "/metrics" });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers["content-type"]), /^text\/plain/);
    return res.body;
  }

  it("reports the reserve against its target, builds in flight and reconciler actions", async () => {
    const pool = await makePool(s, { min_reserve_vm: 3 });
    const bg = createBackground(s.runtime.deps, s.runtime.core as unknown as AdminCore);
    await bg.keeper.refill((await s.runtime.core.repos.pools.get(pool.id))!);
    await bg.reconciler.run();
    const text = await scrape();
    assert.match(text, new RegExp(`rs_reserve_target_instances\\{pool="${pool.id}"\\} 3`));
    assert.match(text, new RegExp(`rs_reserve_free_instances\\{pool="${pool.id}"\\} 3`));
    assert.match(text, new RegExp(`rs_reserve_created_total\\{pool="${pool.id}"\\} 3`));
    assert.match(text, new RegExp(`rs_pool_instances_in_use\\{pool="${pool.id}"\\} 0`));
    // A user holds one: in use 1, free 2.
    const db = s.runtime.store.db;
    const one = await db
      .selectFrom("instances")
      .select("id")
      .where("pool_id", "=", pool.id)
      .executeTakeFirstOrThrow();
    await db
      .insertInto("instance_users")
      .values({ instance_id: one.id, user_id: `user-${pool.id}` })
      .execute();
    const after = await scrape();
    assert.match(after, new RegExp(`rs_pool_instances_in_use\\{pool="${pool.id}"\\} 1`));
    assert.match(after, new RegExp(`rs_reserve_free_instances\\{pool="${pool.id}"\\} 2`));
    assert.match(text, /rs_builds_in_flight \d+/);
    assert.match(text, /rs_sessions_open 0/);
    assert.match(text, /rs_task_queue_depth\{state="PENDING"\} \d+/);
    assert.match(text, /# TYPE rs_reconciler_actions_total counter/);
  });

  it("reports allocation latency by code and HTTP latency by route pattern", async () => {
    observeAllocation(0.2, 0);
    observeAllocation(3, 12);
    await s.runtime.admin!.inject({
      method: "GET",
      url: "/v1/projects/nope",
      headers: { "x-auth-token": s.adminToken },
    });
    const text = await scrape();
    assert.match(text, /rs_allocation_duration_seconds_count\{code="0"\} [1-9]/);
    assert.match(text, /rs_allocations_total\{code="12"\} [1-9]/);
    assert.match(
      text,
      /rs_http_request_duration_seconds_count\{app="admin",method="GET",route="\/v1\/projects\/:[a-z_]+",status="404"\} 1/,
    );
  });
});
