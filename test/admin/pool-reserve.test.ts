// The `reserve` extension of the project JSON through the admin API: why a pool's reserve is
// (not) filling, read from our records, on show, list and edit, beside the reference's keys.
// Workers are off: the test runs the reserve keeper and the reconciler itself.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { NO_FAULTS } from "../../src/simulator/server.ts";
import { type Stack, startStack } from "../helpers/stack.ts";
import { api, makePool, makeUser, waitActive } from "./api.ts";

const REFERENCE_KEYS = [
  "id",
  "name",
  "domain_id",
  "image_id",
  "flavor_id",
  "network_id",
  "availability_zone",
  "operation_mode",
  "instance_init_script",
  "min_reserve_vm",
  "instance_name_pattern",
  "user_volume_enabled",
  "volume_size",
  "volume_type_id",
];

describe("reserve in the project JSON (extension)", () => {
  let stack: Stack;
  let call: ReturnType<typeof api>;
  before(async () => {
    stack = await startStack({ workers: { enabled: false }, reserve: { intervalSeconds: 1 } });
    call = api(stack);
  });
  beforeEach(() => {
    Object.assign(stack.sim.ctx.faults, NO_FAULTS);
  });
  after(() => stack?.stop());

  const core = () => stack.runtime.core as unknown as AdminCore;
  const background = (now?: Date) =>
    createBackground(stack.runtime.deps, core(), {
      adoptAfterSeconds: 3600,
      ...(now ? { now: () => now } : {}),
    });
  const refill = async (id: string, now?: Date) =>
    background(now).keeper.refill((await core().repos.pools.get(id))!);
  const shown = async (id: string) => {
    const res = await call("GET", `/v1/projects/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.project;
  };

  test("show, list and edit carry the reserve beside every reference key", async () => {
    const id = await makePool(call, stack, { min_reserve_vm: 2 });
    const idle = await makePool(call, stack);
    const before = await shown(id);
    for (const key of REFERENCE_KEYS) assert.ok(key in before, `${key} is missing`);
    assert.deepEqual(before.reserve, {
      state: "ok",
      message: null,
      failures: 0,
      backoff_until: null,
      target: 2,
      next_change: null,
      ready: 0,
      free: 0,
      building: 0,
      failed_builds: 0,
      last_failure: null,
      last_failure_at: null,
    });

    // The keeper asked Nova for two: they are building, not yet free to serve.
    assert.equal((await refill(id))?.created, 2);
    const building = (await shown(id)).reserve;
    assert.equal(building.free, 0);
    assert.equal(building.building, 2);

    // Once ACTIVE in our records they are free; one given to a user no longer is.
    const servers = (await stack.runtime.deps.cloud.nova.listServers({ projectId: id })).map((s) => s.id);
    await waitActive(stack, servers);
    await background().reconciler.run();
    assert.equal((await shown(id)).reserve.free, 2);
    const user = await makeUser(stack);
    const assigned = await call("POST", `/v1/servers/${servers[0]}/users/`, { body: { users: [user.id] } });
    assert.equal(assigned.status, 204, JSON.stringify(assigned.body));
    assert.deepEqual(
      { ...(await shown(id)).reserve },
      {
        state: "ok",
        message: null,
        failures: 0,
        backoff_until: null,
        target: 2,
        next_change: null,
        // Free, but within the default boot grace (30 s) of becoming ACTIVE: not yet ready.
        ready: 0,
        free: 1,
        building: 0,
        failed_builds: 0,
        last_failure: null,
        last_failure_at: null,
      },
    );

    const listed = await call("GET", "/v1/projects/");
    assert.equal(listed.status, 200);
    const byId = new Map(listed.body.projects.map((p: { id: string }) => [p.id, p]));
    assert.deepEqual((byId.get(id) as { reserve: unknown }).reserve, (await shown(id)).reserve);
    assert.deepEqual((byId.get(idle) as { reserve: unknown }).reserve, {
      state: "ok",
      message: null,
      failures: 0,
      backoff_until: null,
      target: 0,
      next_change: null,
      ready: 0,
      free: 0,
      building: 0,
      failed_builds: 0,
      last_failure: null,
      last_failure_at: null,
    });

    const edited = await call("PUT", `/v1/projects/${id}`, { body: { project: { min_reserve_vm: 3 } } });
    assert.equal(edited.status, 200);
    assert.equal(edited.body.project.reserve.target, 3);
    assert.equal(edited.body.project.reserve.free, 1);
  });

  test("a pool whose builds hang shows its back-off, its cause and until when", async () => {
    const id = await makePool(call, stack, { min_reserve_vm: 1 });
    stack.sim.ctx.faults.stuckBuild = true;
    assert.equal((await refill(id))?.created, 1);
    assert.equal((await shown(id)).reserve.building, 1);

    // Past the build timeout the reconciler removes the stuck build: a failed build of the pool.
    const late = new Date(Date.now() + (stack.config.allocation.buildTimeoutSeconds + 60) * 1000);
    await background(late).reconciler.run();
    const { reserve } = await shown(id);
    assert.equal(reserve.state, "backoff");
    assert.equal(reserve.failures, 1);
    assert.match(reserve.message, /1 build\(s\) failed: stuck in BUILD for more than \d+ s/);
    assert.match(reserve.backoff_until, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.ok(Date.parse(`${reserve.backoff_until}Z`) > Date.now());
    assert.equal(reserve.target, 1);
    assert.equal(reserve.free, 0);
    assert.equal(reserve.building, 0);

    // The list says the same, and the keeper holds back until then.
    const listed = await call("GET", "/v1/projects/");
    const mine = listed.body.projects.find((p: { id: string }) => p.id === id);
    assert.deepEqual(mine.reserve, reserve);
    assert.equal((await refill(id))?.limitedBy, "backoff");
    assert.equal((await shown(id)).reserve.building, 0);
  });
});
