// Neutron 2.0 of the cloud simulator over HTTP: visibility, error bodies, ports, floating IPs
// (and how Nova shows them), security group rules and their duplicates, quotas.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { adminToken, demoToken, simHarness } from "../helpers/sim-harness.ts";

const harness = () =>
  simHarness({
    tokens: { admin: adminToken(), demo: demoToken() },
    buildDelayMs: 20,
    volumeDelayMs: 10,
    projectExists: (p) => p === "p-admin" || p === "p-demo",
  });

describe("neutron simulator", async () => {
  const h = await harness();
  after(() => h.app.close());
  const n = (path: string) => `/network/v2.0${path}`;

  test("version discovery is public; the API answers keystonemiddleware's 401 without a token", async () => {
    const root = await h.call("GET", "/network/");
    assert.equal(root.status, 200);
    assert.equal(root.body.versions[0].id, "v2.0");
    const anon = await h.call("GET", n("/networks"));
    assert.equal(anon.status, 401);
  });

  test("a project sees the shared and external networks, not other projects' ones", async () => {
    const own = await h.call("POST", n("/networks"), "admin", { network: { name: "admin-only" } });
    assert.equal(own.status, 201);
    const listed = await h.call("GET", n("/networks"), "demo");
    const names = listed.body.networks.map((x: { name: string }) => x.name).sort();
    assert.deepEqual(names, ["private", "public"]);
    const external = await h.call("GET", n("/networks?router:external=true"), "demo");
    assert.deepEqual(
      external.body.networks.map((x: { id: string }) => x.id),
      [h.seed.externalNetworkId],
    );
    const hidden = await h.call("GET", n(`/networks/${own.body.network.id}`), "demo");
    assert.equal(hidden.status, 404);
    assert.deepEqual(hidden.body, {
      NeutronError: {
        type: "NetworkNotFound",
        message: `Network ${own.body.network.id} could not be found.`,
        detail: "",
      },
    });
    const shared = await h.call("POST", n("/networks"), "demo", { network: { name: "x", shared: true } });
    assert.equal(shared.status, 403);
    assert.equal(shared.body.NeutronError.type, "PolicyNotAuthorized");
    const badFilter = await h.call("GET", n("/networks?colour=blue"), "demo");
    assert.equal(badFilter.status, 400);
    const subnet = await h.call("GET", n(`/subnets/${h.seed.subnetId}`), "demo");
    assert.equal(subnet.body.subnet.cidr, "10.0.0.0/16");
    assert.deepEqual(subnet.body.subnet.allocation_pools, [{ start: "10.0.0.2", end: "10.0.255.254" }]);
  });

  test("ports get an address and the default security group, and filter by fixed_ips", async () => {
    const created = await h.call("POST", n("/ports"), "demo", {
      port: { network_id: h.seed.networkId, name: "p1" },
    });
    assert.equal(created.status, 201);
    const port = created.body.port;
    assert.equal(port.fixed_ips[0].subnet_id, h.seed.subnetId);
    assert.equal(port.security_groups.length, 1);
    const groups = await h.call("GET", n("/security-groups?name=default"), "demo");
    assert.equal(groups.body.security_groups[0].id, port.security_groups[0]);
    const byIp = await h.call(
      "GET",
      n(`/ports?fixed_ips=ip_address=${port.fixed_ips[0].ip_address}`),
      "demo",
    );
    assert.deepEqual(
      byIp.body.ports.map((p: { id: string }) => p.id),
      [port.id],
    );
    const fixed = await h.call("POST", n("/ports"), "demo", {
      port: { network_id: h.seed.networkId, fixed_ips: [{ ip_address: port.fixed_ips[0].ip_address }] },
    });
    assert.equal(fixed.status, 409);
    assert.equal(fixed.body.NeutronError.type, "IpAddressAlreadyAllocated");
    assert.equal((await h.call("DELETE", n(`/ports/${port.id}`), "demo")).status, 204);
    assert.equal(
      (await h.call("GET", n(`/ports/${port.id}`), "demo")).body.NeutronError.type,
      "PortNotFound",
    );
  });

  test("a floating IP associates with a server's port and shows in Nova's addresses", async () => {
    const boot = await h.app.inject({
      method: "POST",
      url: "/compute/v2.1/servers",
      headers: { "x-auth-token": "demo", "openstack-api-version": "compute 2.79" },
      payload: {
        server: {
          name: "fip",
          flavorRef: h.seed.flavorId,
          imageRef: h.seed.imageId,
          networks: [{ uuid: h.seed.networkId }],
        },
      },
    });
    const serverId = JSON.parse(boot.body).server.id;
    const [port] = (await h.call("GET", n(`/ports?device_id=${serverId}`), "demo")).body.ports;
    const fip = await h.call("POST", n("/floatingips"), "demo", {
      floatingip: { floating_network_id: h.seed.externalNetworkId },
    });
    assert.equal(fip.status, 201);
    assert.equal(fip.body.floatingip.status, "DOWN");
    assert.match(fip.body.floatingip.floating_ip_address, /^172\.24\.[4-7]\.\d+$/);
    const id = fip.body.floatingip.id;
    const assoc = await h.call("PUT", n(`/floatingips/${id}`), "demo", { floatingip: { port_id: port.id } });
    assert.equal(assoc.status, 200);
    assert.equal(assoc.body.floatingip.port_id, port.id);
    assert.equal(assoc.body.floatingip.fixed_ip_address, port.fixed_ips[0].ip_address);
    assert.equal(assoc.body.floatingip.status, "ACTIVE");
    assert.ok(assoc.body.floatingip.router_id);
    const byPort = await h.call("GET", n(`/floatingips?port_id=${port.id}`), "demo");
    assert.deepEqual(
      byPort.body.floatingips.map((f: { id: string }) => f.id),
      [id],
    );

    const server = await h.app.inject({
      method: "GET",
      url: `/compute/v2.1/servers/${serverId}`,
      headers: { "x-auth-token": "demo" },
    });
    const addrs = JSON.parse(server.body).server.addresses.private;
    assert.deepEqual(
      addrs.map((a: Record<string, string>) => [a.addr, a["OS-EXT-IPS:type"]]),
      [
        [port.fixed_ips[0].ip_address, "fixed"],
        [fip.body.floatingip.floating_ip_address, "floating"],
      ],
    );

    const second = await h.call("POST", n("/floatingips"), "demo", {
      floatingip: { floating_network_id: h.seed.externalNetworkId, port_id: port.id },
    });
    assert.equal(second.status, 409);
    assert.equal(second.body.NeutronError.type, "FloatingIPPortAlreadyAssociated");

    const dis = await h.call("PUT", n(`/floatingips/${id}`), "demo", { floatingip: { port_id: null } });
    assert.equal(dis.body.floatingip.port_id, null);
    assert.equal(dis.body.floatingip.status, "DOWN");
    const notExternal = await h.call("POST", n("/floatingips"), "demo", {
      floatingip: { floating_network_id: h.seed.networkId },
    });
    assert.equal(notExternal.status, 400);
    assert.equal((await h.call("DELETE", n(`/floatingips/${id}`), "demo")).status, 204);
  });

  test("the floatingip quota answers 409 OverQuota", async () => {
    const put = await h.call("PUT", n("/quotas/p-demo"), "admin", { quota: { floatingip: 1 } });
    assert.equal(put.body.quota.floatingip, 1);
    const first = await h.call("POST", n("/floatingips"), "demo", {
      floatingip: { floating_network_id: h.seed.externalNetworkId },
    });
    assert.equal(first.status, 201);
    const over = await h.call("POST", n("/floatingips"), "demo", {
      floatingip: { floating_network_id: h.seed.externalNetworkId },
    });
    assert.equal(over.status, 409);
    assert.deepEqual(over.body.NeutronError, {
      type: "OverQuota",
      message: "Quota exceeded for resources: ['floatingip'].",
      detail: "",
    });
    const details = await h.call("GET", n("/quotas/p-demo/details"), "demo");
    assert.deepEqual(details.body.quota.floatingip, { limit: 1, used: 1, reserved: 0 });
    assert.equal(
      (await h.call("PUT", n("/quotas/p-demo"), "demo", { quota: { floatingip: 9 } })).status,
      403,
    );
  });

  test("security group rules: create, duplicate 409 naming the rule, list by group, delete", async () => {
    const sg = await h.call("POST", n("/security-groups"), "demo", { security_group: { name: "desktops" } });
    const groupId = sg.body.security_group.id;
    assert.equal(
      sg.body.security_group.security_group_rules.length,
      2,
      "new groups carry the two egress rules",
    );
    const rule = {
      security_group_id: groupId,
      direction: "ingress",
      ethertype: "IPv4",
      protocol: "tcp",
      port_range_min: 3389,
      port_range_max: 3389,
      remote_ip_prefix: "198.51.100.7/32",
    };
    const created = await h.call("POST", n("/security-group-rules"), "demo", { security_group_rule: rule });
    assert.equal(created.status, 201);
    assert.equal(created.body.security_group_rule.port_range_min, 3389);
    const dup = await h.call("POST", n("/security-group-rules"), "demo", {
      security_group_rule: { ...rule, protocol: "6" },
    });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.body.NeutronError, {
      type: "SecurityGroupRuleExists",
      message: `Security group rule already exists. Rule id is ${created.body.security_group_rule.id}.`,
      detail: "",
    });
    const bad = await h.call("POST", n("/security-group-rules"), "demo", {
      security_group_rule: { ...rule, port_range_min: 10, port_range_max: 1 },
    });
    assert.equal(bad.status, 400);
    const listed = await h.call(
      "GET",
      n(`/security-group-rules?security_group_id=${groupId}&direction=ingress`),
      "demo",
    );
    assert.deepEqual(
      listed.body.security_group_rules.map((r: { id: string }) => r.id),
      [created.body.security_group_rule.id],
    );
    assert.equal(
      (await h.call("DELETE", n(`/security-group-rules/${created.body.security_group_rule.id}`), "demo"))
        .status,
      204,
    );
    const defaults = await h.call("GET", n("/security-groups?name=default"), "demo");
    const del = await h.call("DELETE", n(`/security-groups/${defaults.body.security_groups[0].id}`), "demo");
    assert.equal(del.status, 409);
    assert.equal((await h.call("DELETE", n(`/security-groups/${groupId}`), "demo")).status, 204);
  });
});
