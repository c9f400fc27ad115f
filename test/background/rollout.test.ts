// Golden-image roll-out (issue 16, core/rollout.ts) against the simulator, its steps driven by
// the test (no periodic job runs): every instance of a pool is replaced while a storm of users
// keeps getting desktops, none of them held by two users at once and none from the old image
// after the end; a user's volume follows them to the new instance; pause stops the
// replacements and rollback brings the previous image back; a deadline warns the users of old
// desktops still in use (their session's notice), then closes their sessions so they are
// replaced, on a clock the test moves.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { forEachLimited } from "../../src/core/limited.ts";
import type { RolloutService } from "../../src/core/rollout.ts";
import {
  call,
  finished,
  makeInstances,
  makePool,
  makeUser,
  requestVm,
  type TestUser,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("golden-image roll-out", () => {
  let s: Stack;
  let newImage: string;
  let clock = Date.now();
  let rollouts: RolloutService;
  let buildWatcher: { run(): Promise<unknown> };
  /** What the periodic jobs do: builds' statuses copied from Nova, then a roll-out step. */
  const tick = async () => {
    await buildWatcher.run();
    await rollouts.step();
  };

  const admin = (method: string, path: string, body?: unknown) =>
    call(s.adminUrl, method, path, { body, headers: { "X-Auth-Token": s.adminToken } });
  const db = () => s.runtime.store.db;
  const core = () => s.runtime.core as unknown as AdminCore;

  async function addImage(name: string): Promise<string> {
    const res = await call(s.sim.url, "POST", "/sim/images", {
      body: { name },
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  /** One desktop for the user: the instance, its image, the session. */
  async function desktop(u: TestUser) {
    const { requestId, token } = await requestVm(s, u, { ip_address: "203.0.113.9", conn_type: "rdp" });
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    const instanceId = res.body.server.id as string;
    const row = await db()
      .selectFrom("sessions as s")
      .innerJoin("instances as i", "i.id", "s.instance_id")
      .select(["s.id", "i.image_id"])
      .where("s.request_id", "=", requestId)
      .executeTakeFirstOrThrow();
    return { instanceId, sessionId: row.id, imageId: row.image_id };
  }

  /** No other user has an open session on the instance, and it has exactly this holder. */
  async function heldOnlyBy(instanceId: string, userId: string) {
    const sessions = await db()
      .selectFrom("sessions")
      .select("user_id")
      .distinct()
      .where("instance_id", "=", instanceId)
      .where("closed_at", "is", null)
      .execute();
    assert.deepEqual(
      sessions.map((x) => x.user_id),
      [userId],
      `instance ${instanceId}: one user's sessions only`,
    );
    const users = await db()
      .selectFrom("instance_users")
      .select("user_id")
      .where("instance_id", "=", instanceId)
      .execute();
    assert.deepEqual(
      users.map((x) => x.user_id),
      [userId],
    );
  }

  const live = (poolId: string) =>
    db()
      .selectFrom("instances")
      .select(["id", "image_id", "status"])
      .where("pool_id", "=", poolId)
      .where("deleted_at", "is", null)
      .execute();

  /** Steps until the roll-out of the pool ends (bounded: a loop guard, not a timing assertion). */
  async function stepUntilDone(poolId: string, rounds = 600) {
    for (let i = 0; i < rounds; i++) {
      await tick();
      const r = await core().rollouts.status(poolId);
      if (r && r.rollout.state !== "running") return r;
      await pause(50);
    }
    throw new Error("the roll-out did not end");
  }

  before(async () => {
    s = await startStack({ workers: { enabled: false }, rollout: { batchSize: 4, warnBeforeSeconds: 600 } });
    newImage = await addImage("golden-2");
    const background = createBackground(s.runtime.deps, core(), { now: () => new Date(clock) });
    rollouts = background.rollouts;
    buildWatcher = background.buildWatcher;
  });
  after(async () => {
    await s?.stop();
  });

  it("replaces every instance while a storm of 40 users keeps getting desktops, none twice, none old after the end", async () => {
    const pool = await makePool(s);
    const oldImage = s.sim.seed.imageId;
    // Room for everything: each desktop has its own security group (client rules).
    await s.runtime.deps.cloud.nova.setQuotas(pool.id, { instances: -1, cores: -1, ram: -1 });
    await s.runtime.deps.cloud.neutron.setQuotas(pool.id, {
      security_group: -1,
      security_group_rule: -1,
      port: -1,
    });
    const before = await makeInstances(s, pool.id, 10);
    const users: TestUser[] = [];
    for (let i = 0; i < 40; i++) users.push(await makeUser(s, [pool.id]));

    // The storm: each user takes a desktop and leaves it (the session closes), three times in
    // a row; ten users at once.
    let stormDone = false;
    const served: { user: string; instance: string; image: string | null }[] = [];
    const storm = forEachLimited(users, 10, async (u) => {
      for (let round = 0; round < 3; round++) {
        const d = await desktop(u);
        await heldOnlyBy(d.instanceId, u.id);
        served.push({ user: u.id, instance: d.instanceId, image: d.imageId });
        await core().sessions.close(d.sessionId);
      }
    }).finally(() => {
      stormDone = true;
    });

    // The roll-out begins while the storm goes on (a PUT of image_id, as an operator would).
    await pause(200);
    const put = await admin("PUT", `/v1/projects/${pool.id}`, { project: { image_id: newImage } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.project.image_id, newImage);
    assert.equal(put.body.project.rollout.state, "running");
    assert.equal(put.body.project.rollout.from_image_id, oldImage);
    const taskId = put.body.project.rollout.id as string;
    const changedAt = served.length;

    while (!stormDone) {
      await tick();
      await pause(50);
    }
    await storm;
    const done = await stepUntilDone(pool.id);
    assert.equal(done.rollout.state, "completed");
    assert.equal(done.progress.old, 0);
    assert.equal(served.length, 120, "every request of the storm got a desktop");
    assert.ok(changedAt < 120, "the roll-out began during the storm");

    // Every instance is new; every instance from before is gone.
    const now = await live(pool.id);
    assert.ok(now.length > 0);
    assert.ok(now.every((i) => i.image_id === newImage));
    assert.ok(before.every((id) => !now.some((i) => i.id === id)));

    // After the end nobody gets an old-image desktop.
    await forEachLimited(users, 10, async (u) => {
      const d = await desktop(u);
      assert.equal(d.imageId, newImage);
      await heldOnlyBy(d.instanceId, u.id);
      await core().sessions.close(d.sessionId);
    });

    // The roll-out is a task with its progress.
    const task = await admin("GET", `/v1/tasks/${taskId}`);
    assert.equal(task.status, 200, JSON.stringify(task.body));
    assert.equal(task.body.status, "SUCCESS");
    assert.equal(task.body.name, "rollout");
    // The task's result is the progress as counted when the roll-out completed: requests still
    // ending then may have built new instances since, so its `new` is at most today's count.
    const result = JSON.parse(task.body.result);
    assert.deepEqual(
      { ...result, new: undefined },
      {
        project_id: pool.id,
        state: "completed",
        from_image_id: oldImage,
        to_image_id: newImage,
        old: 0,
        new: undefined,
      },
    );
    assert.ok(result.new > 0 && result.new <= now.length, `new ${result.new} of ${now.length}`);
    const shown = await admin("GET", `/v1/projects/${pool.id}/rollout`);
    assert.equal(shown.body.rollout.state, "completed");
    assert.equal(shown.body.rollout.old, 0);
    assert.ok(shown.body.rollout.events.some((e: { kind: string }) => e.kind === "replaced"));
  });

  it("the user's volume follows them to the new instance", async () => {
    const pool = await makePool(s, { user_volume_enabled: true, volume_size: 1 });
    const u = await makeUser(s, [pool.id]);
    const first = await desktop(u);
    await core().sessions.close(first.sessionId);
    const other = await addImage("golden-vol");
    const res = await admin("POST", `/v1/projects/${pool.id}/rollout`, {
      rollout: { image_id: other, batch_size: 2 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await stepUntilDone(pool.id);
    const second = await desktop(u);
    assert.notEqual(second.instanceId, first.instanceId);
    assert.equal(second.imageId, other);
    const { volume_id } = await db()
      .selectFrom("volume_assignments")
      .select("volume_id")
      .where("user_id", "=", u.id)
      .where("project_id", "=", pool.id)
      .executeTakeFirstOrThrow();
    const volume = await s.runtime.deps.cloud.cinder.getVolume(volume_id);
    assert.deepEqual(
      volume.attachments.map((a) => a.serverId),
      [second.instanceId],
    );
  });

  it("pause stops the replacements, resume goes on, rollback brings the previous image back", async () => {
    const pool = await makePool(s);
    const oldImage = s.sim.seed.imageId;
    await makeInstances(s, pool.id, 4);
    const other = await addImage("golden-3");
    const started = await admin("POST", `/v1/projects/${pool.id}/rollout`, {
      rollout: { image_id: other, batch_size: 1 },
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.rollout.old, 4);
    const firstTask = started.body.rollout.id;

    const paused = await admin("POST", `/v1/projects/${pool.id}/rollout/pause`);
    assert.equal(paused.body.rollout.state, "paused");
    for (let i = 0; i < 3; i++) await rollouts.step();
    assert.equal(
      (await live(pool.id)).filter((i) => i.image_id === other).length,
      0,
      "paused: none replaced",
    );
    assert.equal((await admin("POST", `/v1/projects/${pool.id}/rollout/pause`)).status, 409);

    assert.equal(
      (await admin("POST", `/v1/projects/${pool.id}/rollout/resume`)).body.rollout.state,
      "running",
    );
    await tick();
    const mid = await live(pool.id);
    assert.equal(mid.filter((i) => i.image_id === other).length, 1, "one step, batch_size 1: one replaced");

    const back = await admin("POST", `/v1/projects/${pool.id}/rollout/rollback`);
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.rollout.to_image_id, oldImage);
    assert.equal(back.body.rollout.old, 1, "only the instance already rebuilt is old now");
    const pooled = await admin("GET", `/v1/projects/${pool.id}`);
    assert.equal(pooled.body.project.image_id, oldImage);
    const revoked = await admin("GET", `/v1/tasks/${firstTask}`);
    assert.equal(revoked.body.status, "REVOKED");

    const done = await stepUntilDone(pool.id);
    assert.equal(done.rollout.state, "completed");
    assert.ok((await live(pool.id)).every((i) => i.image_id === oldImage));
  });

  it("a deadline warns the users of old desktops in use, then closes their sessions and replaces them", async () => {
    const pool = await makePool(s);
    const u = await makeUser(s, [pool.id]);
    const d = await desktop(u);
    const other = await addImage("golden-4");
    clock = Date.now();
    const deadline = new Date(clock + 3600_000).toISOString();
    const res = await admin("POST", `/v1/projects/${pool.id}/rollout`, {
      rollout: { image_id: other, deadline, warn_before_seconds: 600 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));

    // In use, before the warning: nothing happens to it.
    await rollouts.step();
    const notice = async () =>
      await db()
        .selectFrom("sessions")
        .select(["notice", "closed_at"])
        .where("id", "=", d.sessionId)
        .executeTakeFirstOrThrow();
    assert.equal((await notice()).notice, null);
    assert.ok((await live(pool.id)).some((i) => i.id === d.instanceId));

    // Ten minutes before the deadline: warned, still open.
    clock += 3000_000 + 1000;
    await rollouts.step();
    const warned = await notice();
    assert.match(warned.notice ?? "", /replaced by one with a new image/);
    assert.equal(warned.closed_at, null);
    const shown = await admin("GET", `/v1/projects/${pool.id}/rollout`);
    assert.ok(shown.body.rollout.warned_at);
    assert.ok(shown.body.rollout.events.some((e: { kind: string }) => e.kind === "warning"));
    const sessions = await admin("GET", "/v1/sessions");
    const mine = sessions.body.sessions.find((x: { session_id: string }) => x.session_id === d.sessionId);
    assert.match(mine?.notice ?? "", /save your work/);

    // At the deadline: the session closes and the desktop is replaced.
    clock += 600_000;
    const done = await stepUntilDone(pool.id);
    assert.equal(done.rollout.state, "completed");
    assert.ok((await notice()).closed_at);
    const again = await desktop(u);
    assert.notEqual(again.instanceId, d.instanceId);
    assert.equal(again.imageId, other);
  });

  it("a pool deleted during its roll-out leaves no task running", async () => {
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
    const started = await admin("POST", `/v1/projects/${pool.id}/rollout`, {
      rollout: { image_id: newImage },
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal((await admin("DELETE", `/v1/projects/${pool.id}?force=true`)).status, 204);
    assert.equal((await admin("GET", `/v1/tasks/${started.body.rollout.id}`)).body.status, "REVOKED");
  });

  it("bad input: documented errors, never a 5xx", async () => {
    const pool = await makePool(s);
    const post = (body: unknown) => admin("POST", `/v1/projects/${pool.id}/rollout`, body);
    assert.equal((await post({ rollout: { image_id: "no-such-image" } })).status, 400);
    assert.equal((await post({ rollout: { image_id: s.sim.seed.imageId } })).status, 409);
    assert.equal((await post({ rollout: { image_id: newImage, batch_size: 0 } })).status, 400);
    assert.equal((await post({ rollout: { image_id: newImage, deadline: "yesterday" } })).status, 400);
    assert.equal(
      (await post({ rollout: { image_id: newImage, deadline: "2001-01-01T00:00:00Z" } })).status,
      400,
    );
    assert.equal((await post({})).status, 400);
    assert.equal((await admin("GET", `/v1/projects/${pool.id}/rollout`)).status, 404);
    assert.equal((await admin("POST", `/v1/projects/${pool.id}/rollout/rollback`)).status, 409);
    assert.equal((await admin("POST", `/v1/projects/${pool.id}/rollout/resume`)).status, 409);
    assert.equal(
      (await admin("POST", "/v1/projects/nope/rollout", { rollout: { image_id: newImage } })).status,
      404,
    );
  });
});
