// Neutron's contract as rs-server relies on it: networks and subnets to check a pool's
// template, a server's port, floating IPs that follow a user from server to server (and show
// in Nova as `floating`), client security rules whose duplicates are a typed conflict, quotas.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SecurityGroupRuleExistsError } from "../../src/cloud/neutron.ts";
import { serverAddresses } from "../../src/cloud/nova.ts";
import {
  type CloudUnderTest,
  type Discovered,
  kindOf,
  MISSING,
  unique,
  useCloudUnderTest,
  waitFor,
} from "./cloud-under-test.ts";

describe("Neutron contract", () => {
  let cut: CloudUnderTest;
  let d: Discovered;
  let projectId: string;
  useCloudUnderTest((c) => ({ cut, d, projectId } = c));

  test("networks: external ones are flagged, fetched by id, filtered, unknown is not_found", async () => {
    const neutron = cut.cloud.neutron;
    const net = await neutron.getNetwork(d.network.id);
    assert.equal(net.id, d.network.id);
    assert.equal(net.external, false);
    assert.ok(net.subnetIds.length > 0);
    assert.equal((await neutron.getNetwork(d.external.id)).external, true);
    const externals = await neutron.listNetworks({ external: true });
    assert.ok(externals.some((n) => n.id === d.external.id));
    assert.ok(externals.every((n) => n.external));
    assert.deepEqual(
      (await neutron.listNetworks({ ids: [d.network.id] })).map((n) => n.id),
      [d.network.id],
    );
    // Admins see every project's networks: names need not be unique.
    const named = await neutron.listNetworks({ name: net.name });
    assert.ok(named.some((n) => n.id === net.id));
    assert.ok(named.every((n) => n.name === net.name));
    assert.equal(await kindOf(neutron.getNetwork(MISSING)), "not_found");
  });

  test("networks page through networks_links when asked for small pages", async () => {
    const all = await cut.cloud.neutron.listNetworks();
    const paged = await cut.cloud.neutron.listNetworks({ pageSize: 1 });
    assert.deepEqual(paged.map((n) => n.id).sort(), all.map((n) => n.id).sort());
  });

  test("subnets: listed by network, fetched by id, unknown is not_found", async () => {
    const neutron = cut.cloud.neutron;
    const subnets = await neutron.listSubnets({ networkId: d.network.id });
    assert.deepEqual(subnets.map((s) => s.id).sort(), [...d.network.subnetIds].sort());
    const one = await neutron.getSubnet(subnets[0].id);
    assert.equal(one.networkId, d.network.id);
    assert.match(one.cidr, /^[\d.]+\/\d+$|:/);
    assert.ok([4, 6].includes(one.ipVersion));
    assert.equal(await kindOf(neutron.getSubnet(MISSING)), "not_found");
  });

  test("floating IPs: a server's port, association visible in Nova, a move, release", async () => {
    const { nova, neutron } = cut.cloud;
    const tag = unique("tag");
    const { ids } = await nova.createServers({
      name: unique("fip"),
      flavorId: d.flavor.id,
      imageId: d.image.id,
      networkIds: [d.network.id],
      tags: [tag],
      minCount: 2,
      maxCount: 2,
    });
    for (const id of ids) cut.defer(() => nova.deleteServer(id, { ignoreNotFound: true }));
    const servers = [];
    for (const id of ids) {
      servers.push(
        await waitFor(
          cut,
          `server ${id} ACTIVE`,
          () => nova.getServer(id),
          (s) => s.status === "ACTIVE" || s.status === "ERROR",
          cut.buildTimeoutMs,
        ),
      );
    }
    assert.deepEqual(
      servers.map((s) => s.status),
      ["ACTIVE", "ACTIVE"],
    );

    const ports = [];
    for (const s of servers) {
      const list = await neutron.listPorts({ deviceId: s.id });
      assert.equal(list.length, 1);
      const [port] = list;
      assert.equal(port.networkId, d.network.id);
      assert.equal(port.deviceOwner.startsWith("compute:"), true, port.deviceOwner);
      assert.equal(port.projectId, projectId);
      assert.deepEqual(
        port.fixedIps.map((f) => f.ipAddress).sort(),
        serverAddresses(s, "fixed", d.network.name).sort(),
      );
      assert.deepEqual(await neutron.getPort(port.id).then((p) => p.id), port.id);
      assert.ok((await neutron.listPorts({ networkId: d.network.id })).some((p) => p.id === port.id));
      ports.push(port);
    }
    assert.equal(await kindOf(neutron.getPort(MISSING)), "not_found");

    const fip = await neutron.createFloatingIp({ floatingNetworkId: d.external.id, description: tag });
    cut.defer(() => neutron.deleteFloatingIp(fip.id, { ignoreNotFound: true }));
    assert.equal(fip.floatingNetworkId, d.external.id);
    assert.equal(fip.portId, null);
    assert.equal(fip.fixedIpAddress, null);
    assert.equal(fip.projectId, projectId);
    assert.match(fip.floatingIpAddress, /^[\d.]+$|:/);
    assert.deepEqual((await neutron.getFloatingIp(fip.id)).floatingIpAddress, fip.floatingIpAddress);
    assert.ok((await neutron.listFloatingIps({ projectId })).some((f) => f.id === fip.id));
    assert.deepEqual(
      (await neutron.listFloatingIps({ floatingIpAddress: fip.floatingIpAddress })).map((f) => f.id),
      [fip.id],
    );

    const fixedA = ports[0].fixedIps.find((f) => !f.ipAddress.includes(":"))!.ipAddress;
    const on = await neutron.associateFloatingIp(fip.id, ports[0].id, fixedA);
    assert.equal(on.portId, ports[0].id);
    assert.equal(on.fixedIpAddress, fixedA);
    assert.deepEqual(
      (await neutron.listFloatingIps({ portId: ports[0].id })).map((f) => f.id),
      [fip.id],
    );
    await waitFor(
      cut,
      "the floating IP in server A's addresses",
      () => nova.getServer(ids[0]),
      (s) => serverAddresses(s, "floating").includes(fip.floatingIpAddress),
      60_000,
    );

    // Moving it to the user's next server is one update, no disassociation first.
    const moved = await neutron.associateFloatingIp(fip.id, ports[1].id);
    assert.equal(moved.portId, ports[1].id);
    // Without a fixed IP named, Neutron takes the port's IPv4 one.
    assert.equal(moved.fixedIpAddress, ports[1].fixedIps.find((f) => !f.ipAddress.includes(":"))?.ipAddress);
    await waitFor(
      cut,
      "the floating IP moved to server B",
      async () => [await nova.getServer(ids[0]), await nova.getServer(ids[1])],
      ([a, b]) =>
        !serverAddresses(a, "floating").includes(fip.floatingIpAddress) &&
        serverAddresses(b, "floating").includes(fip.floatingIpAddress),
      60_000,
    );

    const off = await neutron.disassociateFloatingIp(fip.id);
    assert.equal(off.portId, null);
    assert.equal(off.fixedIpAddress, null);
    await waitFor(
      cut,
      "the floating IP gone from server B",
      () => nova.getServer(ids[1]),
      (s) => serverAddresses(s, "floating").length === 0,
      60_000,
    );

    assert.equal(await neutron.deleteFloatingIp(fip.id), true);
    assert.equal(await kindOf(neutron.getFloatingIp(fip.id)), "not_found");
    assert.equal(await kindOf(neutron.deleteFloatingIp(fip.id)), "not_found");
    assert.equal(await neutron.deleteFloatingIp(fip.id, { ignoreNotFound: true }), false);
    assert.equal(await kindOf(neutron.associateFloatingIp(MISSING, ports[0].id)), "not_found");
  });

  test("security groups: created with egress defaults, listed by project, fetched by id", async () => {
    const neutron = cut.cloud.neutron;
    const name = unique("sg");
    const sg = await neutron.createSecurityGroup({ name, description: "contract" });
    cut.defer(() => neutron.deleteSecurityGroup(sg.id, { ignoreNotFound: true }));
    assert.equal(sg.name, name);
    assert.equal(sg.projectId, projectId);
    assert.deepEqual(sg.rules.map((r) => `${r.direction}/${r.ethertype}`).sort(), [
      "egress/IPv4",
      "egress/IPv6",
    ]);
    assert.ok((await neutron.listSecurityGroups({ projectId })).some((g) => g.id === sg.id));
    assert.deepEqual(
      (await neutron.listSecurityGroups({ name })).map((g) => g.id),
      [sg.id],
    );
    const again = await neutron.getSecurityGroup(sg.id);
    assert.deepEqual(again.rules.map((r) => r.id).sort(), sg.rules.map((r) => r.id).sort());
    assert.equal(await kindOf(neutron.getSecurityGroup(MISSING)), "not_found");
  });

  test("security groups page through security_groups_links", async () => {
    const neutron = cut.cloud.neutron;
    const made = [];
    for (let i = 0; i < 3; i++) {
      const sg = await neutron.createSecurityGroup({ name: unique("page") });
      cut.defer(() => neutron.deleteSecurityGroup(sg.id, { ignoreNotFound: true }));
      made.push(sg.id);
    }
    const paged = await neutron.listSecurityGroups({ projectId, pageSize: 1 });
    const ids = paged.map((g) => g.id);
    assert.equal(new Set(ids).size, ids.length, "no group twice");
    for (const id of made) assert.ok(ids.includes(id));
  });

  test("security group rules: create, duplicate is a typed conflict, list, delete", async () => {
    const neutron = cut.cloud.neutron;
    const sg = await neutron.createSecurityGroup({ name: unique("rules") });
    cut.defer(() => neutron.deleteSecurityGroup(sg.id, { ignoreNotFound: true }));
    const input = {
      securityGroupId: sg.id,
      direction: "ingress" as const,
      protocol: "tcp",
      portRangeMin: 3389,
      portRangeMax: 3389,
      remoteIpPrefix: "203.0.113.7/32",
    };
    const rule = await neutron.createSecurityGroupRule(input);
    assert.deepEqual(
      [
        rule.securityGroupId,
        rule.direction,
        rule.ethertype,
        rule.protocol,
        rule.portRangeMin,
        rule.portRangeMax,
      ],
      [sg.id, "ingress", "IPv4", "tcp", 3389, 3389],
    );
    assert.equal(rule.remoteIpPrefix, "203.0.113.7/32");

    let dup: unknown;
    try {
      await neutron.createSecurityGroupRule(input);
    } catch (err) {
      dup = err;
    }
    assert.ok(dup instanceof SecurityGroupRuleExistsError, String(dup));
    assert.equal(dup.kind, "conflict");
    assert.equal(dup.status, 409);
    assert.equal(dup.existingRuleId, rule.id);
    assert.deepEqual(await neutron.ensureSecurityGroupRule(input), { id: rule.id, created: false });

    const range = await neutron.ensureSecurityGroupRule({ ...input, portRangeMin: 5900, portRangeMax: 5999 });
    assert.equal(range.created, true);
    const rules = await neutron.listSecurityGroupRules({ securityGroupId: sg.id });
    assert.ok(rules.every((r) => r.securityGroupId === sg.id));
    assert.deepEqual(
      rules
        .filter((r) => r.direction === "ingress")
        .map((r) => r.id)
        .sort(),
      [rule.id, range.id].sort(),
    );
    assert.ok((await neutron.getSecurityGroup(sg.id)).rules.some((r) => r.id === range.id));

    assert.equal(await neutron.deleteSecurityGroupRule(rule.id), true);
    assert.equal(await kindOf(neutron.deleteSecurityGroupRule(rule.id)), "not_found");
    assert.equal(await neutron.deleteSecurityGroupRule(rule.id, { ignoreNotFound: true }), false);
    assert.ok(
      !(await neutron.listSecurityGroupRules({ securityGroupId: sg.id })).some((r) => r.id === rule.id),
    );
    assert.equal(
      await kindOf(neutron.createSecurityGroupRule({ ...input, securityGroupId: MISSING })),
      "not_found",
    );
  });

  test("admin acts for another project; over its floating IP quota is quota_exceeded", async () => {
    const neutron = cut.cloud.neutron;
    const project = await cut.createProject("netquota");
    const sg = await neutron.createSecurityGroup({ name: unique("theirs"), projectId: project.id });
    cut.defer(() => neutron.deleteSecurityGroup(sg.id, { ignoreNotFound: true }));
    assert.equal(sg.projectId, project.id);
    assert.ok((await neutron.listSecurityGroups({ projectId: project.id })).some((g) => g.id === sg.id));

    const theirs = await neutron.createFloatingIp({
      floatingNetworkId: d.external.id,
      projectId: project.id,
    });
    cut.defer(() => neutron.deleteFloatingIp(theirs.id, { ignoreNotFound: true }));
    assert.equal(theirs.projectId, project.id);

    const defaults = await neutron.getQuotaUsage(project.id);
    assert.equal(defaults.floatingip.inUse, 1);
    cut.defer(() => neutron.resetQuotas(project.id));
    await neutron.setQuotas(project.id, { floatingip: 1 });
    assert.equal((await neutron.getQuotaUsage(project.id)).floatingip.limit, 1);
    const over = neutron.createFloatingIp({ floatingNetworkId: d.external.id, projectId: project.id });
    assert.equal(await kindOf(over), "quota_exceeded");
    assert.deepEqual(
      (await neutron.listFloatingIps({ projectId: project.id })).map((f) => f.id),
      [theirs.id],
    );
    await neutron.resetQuotas(project.id);
    assert.equal((await neutron.getQuotaUsage(project.id)).floatingip.limit, defaults.floatingip.limit);
  });
});
