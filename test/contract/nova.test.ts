// Nova's contract as rs-server relies on it: batched creation with a reservation, BUILD then
// ACTIVE, tags (given at creation, changeable only once ACTIVE), filters and paging, quota
// refusals, security group actions, deletion and its traces in changes-since listings.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type NovaServer, serverAddresses } from "../../src/cloud/nova.ts";
import {
  type CloudUnderTest,
  type Discovered,
  kindOf,
  MISSING,
  unique,
  useCloudUnderTest,
  waitFor,
  waitGone,
} from "./cloud-under-test.ts";

describe("Nova contract", () => {
  let cut: CloudUnderTest;
  let d: Discovered;
  let projectId: string;
  const tag = unique("tag");
  const name = unique("srv");
  let reservationId: string;
  let ids: string[] = [];
  let since: Date;
  useCloudUnderTest((c) => ({ cut, d, projectId } = c));

  test("flavors: listed with their sizes, fetched by id, unknown id is not_found", async () => {
    const flavors = await cut.cloud.nova.listFlavors();
    assert.ok(flavors.length > 0);
    for (const f of flavors) {
      assert.equal(typeof f.id, "string");
      assert.ok(Number.isInteger(f.vcpus) && f.vcpus > 0);
      assert.ok(Number.isInteger(f.ram) && f.ram > 0);
      assert.ok(Number.isInteger(f.disk));
    }
    const one = await cut.cloud.nova.getFlavor(d.flavor.id);
    assert.deepEqual(
      [one.id, one.name, one.vcpus, one.ram],
      [d.flavor.id, d.flavor.name, d.flavor.vcpus, d.flavor.ram],
    );
    assert.equal(await kindOf(cut.cloud.nova.getFlavor(MISSING)), "not_found");
  });

  test("availability zones: at least one is available", async () => {
    const zones = await cut.cloud.nova.listAvailabilityZones();
    assert.ok(
      zones.some((z) => z.available && z.name.length > 0),
      JSON.stringify(zones),
    );
  });

  test("absolute limits and quota usage describe the project", async () => {
    const limits = await cut.cloud.nova.getAbsoluteLimits();
    for (const k of [
      "maxTotalInstances",
      "maxTotalCores",
      "maxTotalRAMSize",
      "totalInstancesUsed",
      "totalCoresUsed",
    ]) {
      assert.equal(typeof limits[k], "number", k);
    }
    const usage = await cut.cloud.nova.getQuotaUsage(projectId);
    for (const k of ["instances", "cores", "ram"]) {
      assert.equal(typeof usage[k]?.limit, "number", k);
      assert.equal(typeof usage[k]?.inUse, "number", k);
    }
    assert.equal(usage.instances.limit, limits.maxTotalInstances);
  });

  test("unknown server ids are not_found, and deleting one is tolerated only when asked", async () => {
    assert.equal(await kindOf(cut.cloud.nova.getServer(MISSING)), "not_found");
    assert.equal(await kindOf(cut.cloud.nova.deleteServer(MISSING)), "not_found");
    assert.equal(await cut.cloud.nova.deleteServer(MISSING, { ignoreNotFound: true }), false);
    assert.equal(await kindOf(cut.cloud.nova.listTags(MISSING)), "not_found");
  });

  test("a batch of two is created under one reservation and listed right away, in BUILD", async () => {
    since = new Date(Date.now() - 60_000);
    const res = await cut.cloud.nova.createServers({
      name,
      flavorId: d.flavor.id,
      imageId: d.image.id,
      networkIds: [d.network.id],
      userData: Buffer.from("#!/bin/sh\necho rs\n").toString("base64"),
      tags: [tag, "trs"],
      metadata: { pool: "contract" },
      minCount: 2,
      maxCount: 2,
    });
    ids = res.ids;
    reservationId = res.reservationId;
    for (const id of ids) cut.defer(() => cut.cloud.nova.deleteServer(id, { ignoreNotFound: true }));
    assert.match(reservationId, /^r-/);
    assert.equal(ids.length, 2);
    assert.equal(new Set(ids).size, 2);
    const first = await cut.cloud.nova.getServer(ids[0]);
    assert.ok(["BUILD", "ACTIVE"].includes(first.status), first.status);
    if (first.status === "BUILD") assert.equal(first.vmState, "building");
    assert.equal(first.projectId, projectId);
  });

  test("tags cannot change while a server builds (409), only once it is ACTIVE", async () => {
    const outcome = await kindOf(cut.cloud.nova.addTag(ids[0], "early"));
    const now = await cut.cloud.nova.getServer(ids[0]);
    // Only meaningful if it was still building when asked; ACTIVE already means the tag went in.
    if (now.status === "BUILD") assert.equal(outcome, "conflict");
    else if (outcome === "ok") await cut.cloud.nova.deleteTag(ids[0], "early");
  });

  test("the servers go BUILD → ACTIVE with Nova's view of them", async () => {
    const servers: NovaServer[] = [];
    for (const id of ids) {
      servers.push(
        await waitFor(
          cut,
          `server ${id} ACTIVE`,
          () => cut.cloud.nova.getServer(id),
          (s) => s.status === "ACTIVE" || s.status === "ERROR",
          cut.buildTimeoutMs,
        ),
      );
    }
    // Nova names a batch <name>-1..N (multi_instance_display_name_template's default).
    assert.deepEqual(servers.map((s) => s.name).sort(), [`${name}-1`, `${name}-2`]);
    for (const s of servers) {
      assert.equal(s.status, "ACTIVE", JSON.stringify(s.fault));
      assert.equal(s.vmState, "active");
      assert.equal(s.taskState, null);
      assert.equal(typeof s.progress, "number");
      assert.equal(s.projectId, projectId);
      assert.deepEqual([...s.tags].sort(), [tag, "trs"].sort());
      assert.equal(s.metadata.pool, "contract");
      assert.ok(!Number.isNaN(Date.parse(s.created)) && !Number.isNaN(Date.parse(s.updated)));
      assert.equal(s.flavorName, d.flavor.name);
      assert.equal(s.imageId, d.image.id);
      assert.ok(s.securityGroups.includes("default"), JSON.stringify(s.raw.security_groups));
      assert.ok(serverAddresses(s, "fixed", d.network.name).length > 0, JSON.stringify(s.addresses));
      assert.ok(s.addresses[d.network.name].some((a) => a.version === 4 && a.type === "fixed"));
      assert.deepEqual(serverAddresses(s, "floating"), []);
      assert.equal(s.raw.id, s.id);
      assert.equal(s.raw["OS-EXT-STS:vm_state"], "active");
      assert.equal(s.raw["OS-EXT-SRV-ATTR:reservation_id"], reservationId);
    }
  });

  test("remote consoles: an ACTIVE server's noVNC console is Nova's proxy URL with a token; SPICE off is bad_request; unknown is not_found", async () => {
    const nova = cut.cloud.nova;
    const first = await nova.createRemoteConsole(ids[0], "vnc");
    assert.equal(first.protocol, "vnc");
    assert.equal(first.type, "novnc");
    // noVNC 1.1+ reads the token from the path parameter: Nova URL-encodes "?token=<uuid>" there.
    assert.match(first.url, /^https?:\/\/[^/]+\/.*\?path=%3Ftoken%3D[0-9a-f-]{36}$/);
    const second = await nova.createRemoteConsole(ids[0], "vnc");
    assert.notEqual(second.url, first.url, "each console has a token of its own");
    // Nova's default [spice] enabled = false (the simulator keeps that default).
    assert.equal(await kindOf(nova.createRemoteConsole(ids[0], "spice")), "bad_request");
    assert.equal(await kindOf(nova.createRemoteConsole(MISSING, "vnc")), "not_found");
  });

  test("listing filters by tags (all), tags-any, reservation, name regex, status and project", async () => {
    const nova = cut.cloud.nova;
    const sorted = [...ids].sort();
    const idsOf = (list: NovaServer[]) => list.map((s) => s.id).sort();
    assert.deepEqual(idsOf(await nova.listServers({ tags: [tag] })), sorted);
    assert.deepEqual(idsOf(await nova.listServers({ tags: [tag, "trs"] })), sorted);
    assert.deepEqual(idsOf(await nova.listServers({ tags: [tag, unique("none")] })), []);
    assert.deepEqual(idsOf(await nova.listServers({ tagsAny: [unique("none"), tag] })), sorted);
    assert.deepEqual(idsOf(await nova.listServers({ reservationId })), sorted);
    const one = await nova.listServers({ name: `^${name}-1$` });
    assert.deepEqual(
      one.map((s) => s.name),
      [`${name}-1`],
    );
    // The name filter is a regular expression: a prefix matches both.
    assert.equal((await nova.listServers({ name, tags: [tag] })).length, 2);
    assert.deepEqual(idsOf(await nova.listServers({ tags: [tag], status: "ACTIVE" })), sorted);
    assert.deepEqual(idsOf(await nova.listServers({ tags: [tag], status: "ERROR" })), []);
    assert.deepEqual(idsOf(await nova.listServers({ tags: [tag], projectId })), sorted);
    assert.deepEqual(idsOf(await nova.listServers({ tags: [tag], allTenants: true })), sorted);
    assert.deepEqual(idsOf(await nova.listServers({ tags: [tag], changesSince: since })), sorted);
  });

  test("listing pages through servers_links when the page is smaller than the result", async () => {
    const paged = await cut.cloud.nova.listServers({ tags: [tag], pageSize: 1 });
    assert.deepEqual(paged.map((s) => s.id).sort(), [...ids].sort());
  });

  test("tags on an ACTIVE server: add (idempotent), replace, delete, delete missing", async () => {
    const nova = cut.cloud.nova;
    const id = ids[0];
    await nova.addTag(id, "assigned");
    await nova.addTag(id, "assigned");
    assert.deepEqual((await nova.listTags(id)).sort(), ["assigned", tag, "trs"].sort());
    assert.deepEqual((await nova.replaceTags(id, [tag, "trs", "x"])).sort(), [tag, "trs", "x"].sort());
    assert.deepEqual((await nova.getServer(id)).tags.sort(), [tag, "trs", "x"].sort());
    assert.equal(await nova.deleteTag(id, "x"), true);
    assert.equal(await kindOf(nova.deleteTag(id, "x")), "not_found");
    assert.equal(await nova.deleteTag(id, "x", { ignoreNotFound: true }), false);
    assert.deepEqual((await nova.listTags(id)).sort(), [tag, "trs"].sort());
  });

  test("renaming a server shows in its view", async () => {
    const renamed = `${name}-renamed`;
    const s = await cut.cloud.nova.updateServer(ids[1], { name: renamed });
    assert.equal(s.name, renamed);
    assert.equal((await cut.cloud.nova.getServer(ids[1])).name, renamed);
  });

  test("a security group is added to and removed from a server through actions", async () => {
    const sg = await cut.cloud.neutron.createSecurityGroup({ name: unique("sg") });
    cut.defer(() => cut.cloud.neutron.deleteSecurityGroup(sg.id, { ignoreNotFound: true }));
    const id = ids[0];
    await cut.cloud.nova.addSecurityGroup(id, sg.id);
    assert.equal(await kindOf(cut.cloud.nova.addSecurityGroup(id, sg.id)), "bad_request");
    const withIt = await waitFor(
      cut,
      "security group on the server",
      () => cut.cloud.nova.getServer(id),
      (s) => s.securityGroups.includes(sg.name),
      30_000,
    );
    assert.ok(withIt.securityGroups.includes("default"));
    const [port] = await cut.cloud.neutron.listPorts({ deviceId: id });
    assert.ok(port.securityGroupIds.includes(sg.id));
    await cut.cloud.nova.removeSecurityGroup(id, sg.id);
    await waitFor(
      cut,
      "security group off the server",
      () => cut.cloud.nova.getServer(id),
      (s) => !s.securityGroups.includes(sg.name),
      30_000,
    );
    assert.equal(await kindOf(cut.cloud.nova.removeSecurityGroup(id, sg.id)), "not_found");
  });

  test("a rebuild re-images the server: REBUILD (or straight back), then ACTIVE, same id and ports; a bad image is bad_request", async () => {
    const id = ids[0];
    const [portBefore] = await cut.cloud.neutron.listPorts({ deviceId: id });
    assert.equal(
      await kindOf(cut.cloud.nova.rebuildServer(id, "00000000-0000-0000-0000-000000000000")),
      "bad_request",
    );
    await cut.cloud.nova.rebuildServer(id, d.image.id);
    const rebuilt = await waitFor(
      cut,
      "server ACTIVE again after its rebuild",
      () => cut.cloud.nova.getServer(id),
      (s) => s.status === "ACTIVE" && s.taskState === null,
      cut.buildTimeoutMs,
    );
    assert.equal(rebuilt.id, id);
    assert.equal(rebuilt.imageId, d.image.id);
    const [portAfter] = await cut.cloud.neutron.listPorts({ deviceId: id });
    assert.equal(portAfter.id, portBefore.id);
  });

  test("deleted servers disappear, and changes-since still lists them as DELETED", async () => {
    for (const id of ids) assert.equal(await cut.cloud.nova.deleteServer(id), true);
    for (const id of ids)
      await waitGone(cut, `server ${id}`, () => cut.cloud.nova.getServer(id), cut.buildTimeoutMs);
    assert.deepEqual(await cut.cloud.nova.listServers({ tags: [tag] }), []);
    const traces = await cut.cloud.nova.listServers({ reservationId, changesSince: since });
    assert.deepEqual(traces.map((s) => s.id).sort(), [...ids].sort());
    for (const s of traces) assert.equal(s.status, "DELETED");
    assert.equal(await cut.cloud.nova.deleteServer(ids[0], { ignoreNotFound: true }), false);
  });

  test("quota: headroom follows the project's limits, and creating past them is quota_exceeded", async () => {
    const nova = cut.cloud.nova;
    const project = await cut.createProject("quota");
    const defaults = await nova.getQuotaUsage(project.id);
    cut.defer(() => nova.resetQuotas(project.id));
    await nova.setQuotas(project.id, { instances: 0 });
    const usage = await nova.getQuotaUsage(project.id);
    assert.equal(usage.instances.limit, 0);
    assert.equal(usage.instances.inUse, 0);
    const none = await nova.headroom(project.id, d.flavor);
    assert.deepEqual([none.servers, none.limitedBy], [0, "instances"]);
    const input = {
      name: unique("over"),
      flavorId: d.flavor.id,
      imageId: d.image.id,
      networkIds: [d.network.id],
      tags: [tag],
      projectId: project.id,
    };
    assert.equal(await kindOf(nova.createServers(input)), "quota_exceeded");

    // Room for exactly one server by cores: a batch of two must be refused whole.
    await nova.setQuotas(project.id, { instances: 10, cores: d.flavor.vcpus, ram: d.flavor.ram * 10 });
    const room = await nova.headroom(project.id, d.flavor);
    assert.deepEqual([room.servers, room.limitedBy], [1, "cores"]);
    assert.equal(await kindOf(nova.createServers({ ...input, minCount: 2, maxCount: 2 })), "quota_exceeded");
    assert.deepEqual(await nova.listServers({ projectId: project.id }), []);

    // The one that fits is created in that project (through a token scoped to it) and counted.
    const one = await nova.createServers({ ...input, minCount: 1, maxCount: 1 });
    for (const id of one.ids) cut.defer(() => nova.deleteServer(id, { ignoreNotFound: true }));
    assert.equal(one.ids.length, 1);
    const server = await nova.getServer(one.ids[0]);
    assert.equal(server.projectId, project.id);
    assert.deepEqual(
      (await nova.listServers({ projectId: project.id })).map((s) => s.id),
      one.ids,
    );
    const full = await nova.headroom(project.id, d.flavor);
    assert.deepEqual([full.servers, full.limitedBy], [0, "cores"]);
    assert.equal((await nova.getQuotaUsage(project.id)).instances.inUse, 1);
    assert.equal(await nova.deleteServer(one.ids[0]), true);
    await waitGone(cut, `server ${one.ids[0]}`, () => nova.getServer(one.ids[0]), cut.buildTimeoutMs);

    // DELETE os-quota-sets/{project} puts the project back on the defaults.
    await nova.resetQuotas(project.id);
    const reset = await nova.getQuotaUsage(project.id);
    for (const k of ["instances", "cores", "ram"]) assert.equal(reset[k].limit, defaults[k].limit, k);
  });
});
