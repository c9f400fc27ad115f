// Session policies (issue 16) against the simulator, with the job's clock under test control
// (no real waiting for minutes to pass): sessions idle, disconnected or open too long are
// closed with their reason and their client rules removed; activity and disconnection
// reports move the deadlines; after the session, a non-persistent desktop is rebuilt from
// the image (the user's volume taken off first) and goes back to the reserve, or is deleted;
// a desktop a group holds, or one whose user is connected again, is kept; /metrics counts
// the sessions closed by policy per pool and reason.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { api } from "../admin/api.ts";
import {
  clientRules,
  finished,
  makeInstances,
  makePool,
  makeUser,
  requestVm,
  type TestUser,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const MINUTE = 60_000;

describe("session policies", () => {
  let s: Stack;
  let call: ReturnType<typeof api>;
  before(async () => {
    s = await startStack({ workers: { enabled: false } });
    call = api(s);
  });
  after(async () => {
    await s?.stop();
  });

  const db = () => s.runtime.store.db;
  const core = () => s.runtime.core as unknown as AdminCore;
  /** The policy job as the worker runs it, on a clock the test sets. */
  const jobAt = (at: Date) => createBackground(s.runtime.deps, core(), { now: () => at }).sessionPolicy;
  const session = (id: string) =>
    db().selectFrom("sessions").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const plus = (d: Date, minutes: number) => new Date(d.getTime() + minutes * MINUTE);

  /** A user gets a desktop through the broker (client rules for their address, a session). */
  async function connect(poolId: string, u?: TestUser) {
    const user = u ?? (await makeUser(s, [poolId]));
    const { requestId, token } = await requestVm(s, user, { ip_address: "203.0.113.7", conn_type: "rdp" });
    const done = await finished(s, token, requestId);
    assert.equal(done.body.status, "completed", JSON.stringify(done.body));
    const instanceId = done.body.server.id as string;
    const [open] = await db()
      .selectFrom("sessions")
      .selectAll()
      .where("instance_id", "=", instanceId)
      .where("closed_at", "is", null)
      .execute();
    assert.ok(open, "the broker recorded a session");
    return { user, instanceId, session: open, token };
  }

  async function waitActiveInNova(id: string) {
    for (;;) {
      const server = await s.runtime.deps.cloud.nova.getServer(id);
      if (server.status === "ACTIVE") return server;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("the pool's session_policy is set and shown beside the reference's keys; bad values are 400", async () => {
    const created = await call("POST", "/v1/projects/", {
      body: {
        project: {
          name: `sp-${Date.now()}`,
          flavor_id: s.sim.seed.flavorId,
          image_id: s.sim.seed.imageId,
          network_id: s.sim.seed.networkId,
          session_policy: { idle_minutes: 30, after_session: "rebuild" },
        },
      },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.project.id;
    const shown = await call("GET", `/v1/projects/${id}`);
    assert.deepEqual(shown.body.project.session_policy, {
      idle_minutes: 30,
      disconnected_minutes: null,
      max_minutes: null,
      after_session: "rebuild",
    });
    const updated = await call("PUT", `/v1/projects/${id}`, {
      body: { project: { session_policy: { max_minutes: 600, idle_minutes: null } } },
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.deepEqual(updated.body.project.session_policy, {
      idle_minutes: null,
      disconnected_minutes: null,
      max_minutes: 600,
      after_session: "rebuild",
    });
    for (const bad of [{ idle_minutes: 0 }, { max_minutes: -5 }, { after_session: "burn" }, { nope: 1 }]) {
      const res = await call("PUT", `/v1/projects/${id}`, { body: { project: { session_policy: bad } } });
      assert.equal(res.status, 400, `${JSON.stringify(bad)}: ${JSON.stringify(res.body)}`);
    }
    const plain = await call("GET", `/v1/projects/${id}`);
    assert.equal(plain.body.project.session_policy.max_minutes, 600);
  });

  it("an idle session is closed after idle_minutes, its client rules removed; activity moves the deadline", async () => {
    const pool = await makePool(s, { session_policy: { idle_minutes: 30 } });
    const { instanceId, session: open } = await connect(pool.id);
    assert.equal((await clientRules(s, instanceId)).length, 1);
    const t0 = open.created_at;

    assert.deepEqual((await jobAt(plus(t0, 29)).run()).closed, [], "29 minutes idle: still open");
    // The client reports activity at +20: idle is counted from there.
    const reported = await call("PUT", `/v1/sessions/${open.id}`, {
      body: { session: { active_at: plus(t0, 20).toISOString() } },
    });
    assert.equal(reported.status, 200, JSON.stringify(reported.body));
    assert.equal(reported.body.session.closed_at, null, "a report closes nothing");
    assert.ok(reported.body.session.active_at);
    assert.deepEqual((await jobAt(plus(t0, 31)).run()).closed, [], "11 minutes since the activity");

    const report = await jobAt(plus(t0, 51)).run();
    assert.deepEqual(report.closed, [{ session: open.id, pool: pool.id, reason: "idle" }]);
    const closed = await session(open.id);
    assert.equal(closed.closed_reason, "idle");
    assert.equal(closed.closed_at?.getTime(), plus(t0, 51).getTime());
    assert.deepEqual(await clientRules(s, instanceId), [], "its client rules are gone from Neutron");
    const listed = await call("GET", `/v1/sessions?instance_id=${instanceId}`);
    assert.equal(listed.body.sessions[0].closed_reason, "idle");
    // "keep" (the default): the desktop stays the user's.
    const users = await db()
      .selectFrom("instance_users")
      .select("user_id")
      .where("instance_id", "=", instanceId)
      .execute();
    assert.equal(users.length, 1);
    assertError409(
      await call("PUT", `/v1/sessions/${open.id}`, {
        body: { session: { active_at: new Date().toISOString() } },
      }),
    );
  });

  it("a session reported disconnected is closed after disconnected_minutes; reconnecting clears it", async () => {
    const pool = await makePool(s, { session_policy: { disconnected_minutes: 15 } });
    const { session: open } = await connect(pool.id);
    const t0 = open.created_at;
    const put = (body: unknown) => call("PUT", `/v1/sessions/${open.id}`, { body: { session: body } });
    assert.equal((await put({ disconnected_at: plus(t0, 5).toISOString() })).status, 200);
    assert.equal((await put({ disconnected_at: null })).body.session.disconnected_at, null, "reconnected");
    assert.deepEqual((await jobAt(plus(t0, 60)).run()).closed, [], "connected: no limit applies");
    assert.equal((await put({ disconnected_at: plus(t0, 61).toISOString() })).status, 200);
    assert.deepEqual((await jobAt(plus(t0, 75)).run()).closed, [], "14 minutes disconnected");
    const report = await jobAt(plus(t0, 76)).run();
    assert.deepEqual(report.closed, [{ session: open.id, pool: pool.id, reason: "disconnected" }]);
    assert.equal((await put({ disconnected_at: "not a time" })).status, 400);
  });

  it("a session open longer than max_minutes is closed, whatever its activity", async () => {
    const pool = await makePool(s, { session_policy: { max_minutes: 120, idle_minutes: 60 } });
    const { session: open } = await connect(pool.id);
    const t0 = open.created_at;
    await call("PUT", `/v1/sessions/${open.id}`, {
      body: { session: { active_at: plus(t0, 100).toISOString() } },
    });
    assert.deepEqual((await jobAt(plus(t0, 119)).run()).closed, []);
    const report = await jobAt(plus(t0, 121)).run();
    assert.deepEqual(report.closed, [{ session: open.id, pool: pool.id, reason: "max_length" }]);
  });

  it("after_session rebuild: once the session ended, the desktop is taken back, its user's volume detached, rebuilt, and free again", async () => {
    const pool = await makePool(s, {
      user_volume_enabled: true,
      volume_size: 1,
      session_policy: { idle_minutes: 10, after_session: "rebuild" },
    });
    const { user, instanceId, session: open } = await connect(pool.id);
    const [volume] = await s.runtime.deps.cloud.nova.listVolumeAttachments(instanceId);
    assert.ok(volume, "the user's volume is attached");
    const t0 = open.created_at;
    await jobAt(plus(t0, 11)).run();
    assert.equal((await session(open.id)).closed_reason, "idle");
    assert.deepEqual(
      (await jobAt(plus(t0, 11.5)).run()).rebuilt,
      [],
      "within the grace a user may reconnect",
    );

    const report = await jobAt(plus(t0, 13)).run();
    assert.deepEqual(report.rebuilt, [instanceId]);
    const users = await db()
      .selectFrom("instance_users")
      .selectAll()
      .where("instance_id", "=", instanceId)
      .execute();
    assert.deepEqual(users, [], "no longer the user's");
    const history = await db()
      .selectFrom("assignment_history")
      .selectAll()
      .where("instance_id", "=", instanceId)
      .where("action", "=", "unassign")
      .execute();
    assert.deepEqual(
      history.map((h) => [h.subject_id, h.actor, h.reason]),
      [[user.id, "session-policy", "session ended: desktop rebuilt"]],
    );
    assert.deepEqual(
      await s.runtime.deps.cloud.nova.listVolumeAttachments(instanceId),
      [],
      "volume detached",
    );
    const server = await waitActiveInNova(instanceId);
    assert.equal(server.imageId, s.sim.seed.imageId);
    // The record follows Nova (REBUILD, then ACTIVE): a free desktop of the reserve again.
    await core().instances.show(instanceId, true);
    const row = await db()
      .selectFrom("instances")
      .selectAll()
      .where("id", "=", instanceId)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, "ACTIVE");
    assert.equal(row.deleted_at, null);

    // The user's next request gets a desktop with their volume, wherever it is.
    const again = await connect(pool.id, user);
    const attachments = await s.runtime.deps.cloud.nova.listVolumeAttachments(again.instanceId);
    assert.deepEqual(
      attachments.map((a) => a.volumeId),
      [volume.volumeId],
    );
  });

  it("after_session replace: the desktop is deleted once its session ended", async () => {
    const pool = await makePool(s, { session_policy: { after_session: "replace" } });
    const { instanceId, session: open } = await connect(pool.id);
    assert.deepEqual((await jobAt(plus(open.created_at, 5)).run()).replaced, [], "session open: kept");
    const closedAt = new Date();
    const closed = await call("PUT", `/v1/sessions/${open.id}`, {
      body: { session: { closed_at: closedAt.toISOString() } },
    });
    assert.equal(closed.status, 200);
    const report = await jobAt(plus(closedAt, 2)).run();
    assert.deepEqual(report.replaced, [instanceId]);
    const row = await db()
      .selectFrom("instances")
      .selectAll()
      .where("id", "=", instanceId)
      .executeTakeFirstOrThrow();
    assert.ok(row.deleted_at, "deleted: the reserve keeper builds its replacement");
  });

  it("a desktop a group holds, or whose user connected again, is kept", async () => {
    const pool = await makePool(s, { session_policy: { after_session: "replace" } });
    const { user, instanceId, session: first } = await connect(pool.id);
    await call("PUT", `/v1/sessions/${first.id}`, { body: { session: {} } });
    // The user connects again before the job runs: a new session is open on the same desktop.
    const again = await connect(pool.id, user);
    assert.equal(again.instanceId, instanceId);
    assert.deepEqual((await jobAt(plus(new Date(), 5)).run()).replaced, []);

    const [held] = await makeInstances(s, pool.id, 1);
    await waitActiveInNova(held);
    await core().instances.show(held, true);
    await db().insertInto("instance_users").values({ instance_id: held, user_id: user.id }).execute();
    await db().insertInto("instance_groups").values({ instance_id: held, group_id: "g-1" }).execute();
    const t = new Date();
    await db()
      .insertInto("sessions")
      .values({
        id: crypto.randomUUID(),
        instance_id: held,
        project_id: pool.id,
        user_id: user.id,
        rule_ids: "[]",
        created_at: t,
        closed_at: plus(t, 1),
      })
      .execute();
    const report = await jobAt(plus(t, 10)).run();
    assert.ok(!report.replaced.includes(held), "a group's desktop stays");
  });

  it("/metrics counts the sessions closed by policy per pool and reason", async () => {
    const res = await s.runtime.admin!.inject({ method: "GET", url: "/metrics" });
    assert.equal(res.statusCode, 200);
    const lines = res.body.split("\n").filter((l) => l.startsWith("rs_sessions_closed_by_policy_total{"));
    const byReason = (reason: string) =>
      lines
        .filter((l) => l.includes(`reason="${reason}"`))
        .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
    assert.ok(byReason("idle") >= 2, lines.join("\n"));
    assert.equal(byReason("disconnected"), 1);
    assert.equal(byReason("max_length"), 1);
  });
});

function assertError409(res: { status: number; body: any }) {
  assert.equal(res.status, 409, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 409);
}
