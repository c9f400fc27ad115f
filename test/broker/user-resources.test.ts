// The user's resources follow the user, checked in the simulator itself: the floating IP is
// on the port of the instance the user got and moves with the user; the pool's user volume is
// created on first use, recorded, attached, and moved (detached first); the client rules open
// the conn_type's ports for the client address only and go when the session closes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
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

describe("user resources follow the user", () => {
  let s: Stack;
  let pool: { id: string; name: string };
  let first: string;
  let second: string;
  let u: TestUser;
  let fipId: string;
  let fipAddress: string;
  let sessionOnFirst: string;

  const db = () => s.runtime.store.db;
  const cloud = () => s.runtime.deps.cloud;

  async function portOf(instanceId: string) {
    const [port] = await cloud().neutron.listPorts({ deviceId: instanceId });
    assert.ok(port, `instance ${instanceId} has a port`);
    return port;
  }

  async function sessionOf(requestId: string) {
    return db()
      .selectFrom("sessions")
      .selectAll()
      .where("request_id", "=", requestId)
      .executeTakeFirstOrThrow();
  }

  before(async () => {
    s = await startStack({ admin: { enabled: false } });
    pool = await makePool(s, { user_volume_enabled: true, volume_size: 2 });
    [first, second] = await makeInstances(s, pool.id, 2);
    u = await makeUser(s, [pool.id]);
    const fip = await cloud().neutron.createFloatingIp({
      floatingNetworkId: s.sim.seed.externalNetworkId,
      projectId: pool.id,
    });
    fipId = fip.id;
    fipAddress = fip.floatingIpAddress;
    await db().insertInto("user_floating_ips").values({ user_id: u.id, floating_ip_id: fipId }).execute();
  });
  after(async () => {
    await s?.stop();
  });

  it("first desktop: floating IP associated, volume created and attached, rules opened", async () => {
    const { requestId, token } = await requestVm(s, u, { ip_address: "203.0.113.7", conn_type: "rdp" });
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    const instance = res.body.server.id;
    assert.ok([first, second].includes(instance));
    assert.equal(res.body.server.ip, fipAddress, "the floating IP is the address handed out");

    const fip = await cloud().neutron.getFloatingIp(fipId);
    assert.equal(fip.portId, (await portOf(instance)).id);

    const assignment = await db()
      .selectFrom("volume_assignments")
      .selectAll()
      .where("user_id", "=", u.id)
      .where("project_id", "=", pool.id)
      .executeTakeFirstOrThrow();
    const volume = await cloud().cinder.getVolume(assignment.volume_id);
    assert.equal(volume.size, 2);
    assert.deepEqual(
      volume.attachments.map((a) => a.serverId),
      [instance],
    );

    const rules = await clientRules(s, instance);
    assert.deepEqual(
      rules.map((r) => [r.protocol, r.portRangeMin, r.portRangeMax, r.remoteIpPrefix]),
      [["tcp", 3389, 3389, "203.0.113.7/32"]],
    );
    const session = await sessionOf(requestId);
    assert.deepEqual(
      session.rule_ids,
      rules.map((r) => r.id),
    );
    assert.equal(session.client_ip, "203.0.113.7");
    sessionOnFirst = session.id;
    if (instance !== first) [first, second] = [second, first];
  });

  it("moved to another instance: the floating IP and the volume move with the user", async () => {
    await db()
      .deleteFrom("instance_users")
      .where("instance_id", "=", first)
      .where("user_id", "=", u.id)
      .execute();
    await db()
      .insertInto("instance_users")
      .values({ instance_id: second, user_id: u.id, exclusive: true })
      .execute();
    const { requestId, token } = await requestVm(s, u, { ip_address: "203.0.113.8", conn_type: "vnc" });
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    assert.equal(res.body.server.id, second);
    assert.equal(res.body.server.ip, fipAddress);

    const fip = await cloud().neutron.getFloatingIp(fipId);
    assert.equal(fip.portId, (await portOf(second)).id);
    const fipStep = res.body.steps.find((x: any) => x.name === "floating_ip");
    assert.match(fipStep.detail, /moved/);

    const { volume_id } = await db()
      .selectFrom("volume_assignments")
      .select("volume_id")
      .where("user_id", "=", u.id)
      .executeTakeFirstOrThrow();
    const volume = await cloud().cinder.getVolume(volume_id);
    assert.deepEqual(
      volume.attachments.map((a) => a.serverId),
      [second],
    );
    assert.equal((await cloud().nova.listVolumeAttachments(first)).length, 0);
    const volumeStep = res.body.steps.find((x: any) => x.name === "volume");
    assert.match(volumeStep.detail, new RegExp(`moved from instance ${first}`));
    assert.equal(
      (await db().selectFrom("volume_assignments").selectAll().where("user_id", "=", u.id).execute()).length,
      1,
      "one volume per user and pool",
    );

    const rules = await clientRules(s, second);
    assert.deepEqual(
      rules.map((r) => [r.portRangeMin, r.remoteIpPrefix]),
      [[5900, "203.0.113.8/32"]],
    );
  });

  it("closing a session removes its rules, and only its rules", async () => {
    assert.equal((await clientRules(s, first)).length, 1);
    assert.ok(await s.runtime.core.broker.closeSession(sessionOnFirst));
    assert.equal((await clientRules(s, first)).length, 0);
    assert.equal((await clientRules(s, second)).length, 1);
    assert.equal(await s.runtime.core.broker.closeSession(sessionOnFirst), false);
  });

  it("reconnecting closes the earlier session on the instance and replaces its rules", async () => {
    const before = await db()
      .selectFrom("sessions")
      .select("id")
      .where("instance_id", "=", second)
      .where("closed_at", "is", null)
      .execute();
    assert.equal(before.length, 1);
    const { requestId, token } = await requestVm(s, u, { ip_address: "198.51.100.9", conn_type: "ssh" });
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    const old = await db()
      .selectFrom("sessions")
      .selectAll()
      .where("id", "=", before[0].id)
      .executeTakeFirstOrThrow();
    assert.ok(old.closed_at);
    const rules = await clientRules(s, second);
    assert.deepEqual(
      rules.map((r) => [r.portRangeMin, r.remoteIpPrefix]),
      [[22, "198.51.100.9/32"]],
    );
  });

  it("a session closed through the admin API's service loses its rules at once", async () => {
    const open = await db()
      .selectFrom("sessions")
      .select("id")
      .where("instance_id", "=", second)
      .where("closed_at", "is", null)
      .executeTakeFirstOrThrow();
    assert.equal((await clientRules(s, second)).length, 1);
    await s.runtime.core.sessions.close(open.id);
    assert.equal((await clientRules(s, second)).length, 0);
    const row = await db()
      .selectFrom("sessions")
      .selectAll()
      .where("id", "=", open.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row.rule_ids, []);
  });

  it("rules of a session closed without their removal (a process died between) go at the next sweep", async () => {
    const { requestId, token } = await requestVm(s, u, { ip_address: "198.51.100.10", conn_type: "ssh" });
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    const session = await sessionOf(requestId);
    const instance = session.instance_id;
    assert.equal((await clientRules(s, instance)).length, 1);
    await db().updateTable("sessions").set({ closed_at: new Date() }).where("id", "=", session.id).execute();
    assert.equal((await clientRules(s, instance)).length, 1, "still there before the sweep");
    assert.ok((await s.runtime.core.broker.sweepSessionRules()) >= 1);
    assert.equal((await clientRules(s, instance)).length, 0);
  });
});
