// rs-server's own end-to-end flow, the same steps against the built-in simulator (default) and
// a real OpenStack (RS_CONTRACT_CLOUD=<clouds.yaml>#<admin cloud>; see ./stack.ts): rs-server
// is driven through its two HTTP APIs only; the cloud's admin creates users and floating IPs
// and checks in Nova, Neutron and Cinder what rs-server did. Nothing is seeded by id: flavor,
// image and networks are discovered by listing; every name is unique to the run.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { authenticator } from "otplib";
import { isCloudError } from "../../src/cloud/http.ts";
import { discover, waitFor as waitUntil } from "../contract/cloud-under-test.ts";
import { call, type Reply } from "../helpers/broker-stack.ts";
import { type E2eStack, startE2eStack, uniqueName } from "./stack.ts";

interface User {
  id: string;
  name: string;
  password: string;
}

describe("end to end against the cloud", () => {
  let s: E2eStack;
  let poolId: string | undefined;
  let network: { id: string; subnetIds: string[] };
  let external: { id: string };
  let memberRoleId: string;
  const users: User[] = [];
  const fipIds: string[] = [];
  const volumeIds = new Set<string>();
  /** Server id of each user's desktop, by user name. */
  const desktops = new Map<string, string>();
  let [alice, bob, carol]: User[] = [];

  const admin = async (method: string, path: string, body?: unknown): Promise<Reply> =>
    call(s.adminUrl, method, path, { body, headers: { "X-Auth-Token": await s.adminToken() } });
  const broker = (path: string, body: unknown, headers?: Record<string, string>) =>
    call(s.brokerUrl, "POST", path, { body, headers });
  const login = (u: User, extra: Record<string, unknown> = {}) => ({
    user: u.name,
    password: u.password,
    user_domain_name: "Default",
    ...extra,
  });

  const waitFor = <T>(what: string, read: () => Promise<T>, done: (v: T) => boolean) =>
    waitUntil(s, what, read, done, s.buildTimeoutMs);

  function assertCode(res: Reply, code: number) {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code, JSON.stringify(res.body));
  }

  async function makeUser(prefix: string, options?: Record<string, unknown>): Promise<User> {
    const name = uniqueName(prefix);
    const password = `Pw-${name.slice(-8)}-1a`;
    const user = await s.admin.keystone.createUser({ name, domainId: "default", password, options });
    const u = { id: user.id, name, password };
    users.push(u);
    await s.admin.keystone.grantProjectRole(poolId!, { userId: u.id }, memberRoleId);
    return u;
  }

  /** request-vm accepted, then get-vm polled until the request is over. */
  async function desktopFor(u: User, extra: Record<string, unknown> = {}) {
    const req = await broker("/v1/request-vm/", login(u, extra));
    assert.equal(req.status, 200, JSON.stringify(req.body));
    const token = req.headers.get("x-auth-token");
    assert.ok(token);
    const res = await waitFor(
      `get-vm of ${u.name}`,
      () => broker("/v1/get-vm/", { request: req.body.request_id }, { Authorization: `Bearer ${token}` }),
      (r) => r.status !== 200 || r.body.status === "completed",
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.server.status, "ACTIVE", JSON.stringify(res.body));
    assert.match(res.body.server.ip, /^\d+\.\d+\.\d+\.\d+$/);
    desktops.set(u.name, res.body.server.id);
    return res.body.server as { id: string; ip: string };
  }

  async function portOf(serverId: string) {
    const ports = await s.admin.neutron.listPorts({ deviceId: serverId });
    const port = ports.find((p) => p.networkId === network.id);
    assert.ok(port, `server ${serverId} has a port on ${network.id}: ${JSON.stringify(ports)}`);
    return port;
  }

  async function fixedIpOf(serverId: string) {
    const server = await s.admin.nova.getServer(serverId);
    const fixed = Object.values(server.addresses)
      .flat()
      .filter((a) => a.type === "fixed" && a.version === 4);
    return { server, fixed: fixed.map((a) => a.addr) };
  }

  const poolServers = async () =>
    (await admin("GET", `/v1/servers/?project_id=${poolId}&with_os_object=true`)).body.servers as {
      id: string;
      status: string;
      assigned: boolean;
    }[];

  before(async () => {
    s = await startE2eStack();
    const member = await s.admin.keystone.findRole("member");
    assert.ok(member, "the cloud has a member role");
    memberRoleId = member.id;

    // Discovery as the contract suite does it: the smallest public flavor, an active image, the
    // external network and a tenant network routed to it (the floating IP step needs that).
    const { flavor, image, network: tenant, external: ext, routed } = await discover(s.admin);
    assert.ok(routed, "the cloud has a tenant network routed to the external one");
    network = tenant;
    external = ext;

    const created = await admin("POST", "/v1/projects/", {
      project: {
        name: uniqueName("pool"),
        description: "rs-server end-to-end flow",
        flavor_id: flavor.id,
        image_id: image.id,
        network_id: network.id,
      },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    poolId = created.body.project.id;
    [alice, bob, carol] = [await makeUser("alice"), await makeUser("bob"), await makeUser("carol")];
  });

  after(async () => {
    if (!s) return;
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        if (!isCloudError(err, "not_found")) problems.push(`${what}: ${(err as Error).message}`);
      }
    };
    if (poolId) {
      const id = poolId;
      await attempt("reserve off", () =>
        admin("PUT", `/v1/projects/${id}`, { project: { min_reserve_vm: 0 } }),
      );
      await attempt("volume records", async () => {
        const r = await admin("GET", `/v1/volume-assignments/?project_id=${id}`);
        for (const a of r.body?.["volume-assignments"] ?? []) volumeIds.add(a.volume_id);
      });
      await attempt("pool", () => admin("DELETE", `/v1/projects/${id}?force=true`));
      await attempt("servers", async () => {
        for (const srv of await s.admin.nova.listServers({ projectId: id }))
          await s.admin.nova.deleteServer(srv.id, { ignoreNotFound: true });
        await waitFor(
          "the pool's servers to go",
          () => s.admin.nova.listServers({ projectId: id }),
          (l) => !l.length,
        );
      });
      for (const v of volumeIds)
        await attempt(`volume ${v}`, async () => {
          await waitFor(
            `volume ${v} detached`,
            () => s.admin.cinder.getVolume(v),
            (x) => x.status !== "in-use" && x.status !== "detaching",
          );
          await s.admin.cinder.deleteVolume(v, { ignoreNotFound: true });
        });
      await attempt("security groups", async () => {
        // rs-server's per-instance groups, and the `default` one Neutron made for the project.
        for (const g of await s.admin.neutron.listSecurityGroups({ projectId: id }))
          await s.admin.neutron.deleteSecurityGroup(g.id, { ignoreNotFound: true });
      });
    }
    for (const f of fipIds)
      await attempt(`fip ${f}`, () => s.admin.neutron.deleteFloatingIp(f, { ignoreNotFound: true }));
    for (const u of users) await attempt(`user ${u.name}`, () => s.admin.keystone.deleteUser(u.id));
    if (poolId) await attempt("project", () => s.admin.keystone.deleteProject(poolId!));
    await s.stop();
    if (problems.length) console.error("e2e cleanup:", problems.join("; "));
  });

  it("a pool made through the admin API is a TRS project in Keystone with the template", async () => {
    const shown = await admin("GET", `/v1/projects/${poolId}`);
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal(shown.body.project.network_id, network.id);
    const project = await s.admin.keystone.getProject(poolId!);
    assert.ok(project.tags.includes("trs"), JSON.stringify(project));
  });

  it("min_reserve_vm 2: the reserve fills with ACTIVE Nova servers with fixed IPs from Neutron", async () => {
    const put = await admin("PUT", `/v1/projects/${poolId}`, { project: { min_reserve_vm: 2 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const list = await waitFor(
      "two ACTIVE reserve instances",
      poolServers,
      (l) => l.filter((x) => x.status === "ACTIVE" && !x.assigned).length >= 2,
    );
    for (const inst of list.filter((x) => x.status === "ACTIVE").slice(0, 2)) {
      const { server, fixed } = await fixedIpOf(inst.id);
      assert.equal(server.status, "ACTIVE");
      assert.equal(server.projectId, poolId);
      assert.ok(server.tags.includes("trs"));
      const port = await portOf(inst.id);
      assert.ok(fixed.length > 0, JSON.stringify(server.addresses));
      assert.ok(
        port.fixedIps.some((ip) => fixed.includes(ip.ipAddress)),
        JSON.stringify(port.fixedIps),
      );
    }
  });

  it("three users get distinct ACTIVE desktops; the floating IP, volume and client rule follow", async () => {
    const put = await admin("PUT", `/v1/projects/${poolId}`, {
      project: { user_volume_enabled: true, volume_size: 1 },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const fip = await s.admin.neutron.createFloatingIp({ floatingNetworkId: external.id, projectId: poolId });
    fipIds.push(fip.id);
    const given = await admin("POST", `/v1/users/${alice.id}/floating-ip`, { floating_ip_id: fip.id });
    assert.equal(given.status, 204, JSON.stringify(given.body));

    const [a, b, c] = await Promise.all([
      desktopFor(alice, { ip_address: "198.51.100.23", conn_type: "rdp" }),
      desktopFor(bob),
      desktopFor(carol),
    ]);
    assert.equal(new Set([a.id, b.id, c.id]).size, 3, "three distinct desktops");

    // Bob and Carol: the fixed IP Neutron gave the server.
    for (const d of [b, c]) {
      const { server, fixed } = await fixedIpOf(d.id);
      assert.equal(server.status, "ACTIVE");
      assert.ok(fixed.includes(d.ip), `${d.ip} among ${fixed}`);
    }

    // Alice: her floating IP, associated in Neutron with her desktop's port.
    assert.equal(a.ip, fip.floatingIpAddress);
    const port = await portOf(a.id);
    const fipNow = await s.admin.neutron.getFloatingIp(fip.id);
    assert.equal(fipNow.portId, port.id);

    // Her volume: recorded, in-use in Cinder on that server.
    const va = await admin("GET", `/v1/volume-assignments/?user_id=${alice.id}&project_id=${poolId}`);
    assert.equal(va.status, 200, JSON.stringify(va.body));
    assert.equal(va.body["volume-assignments"].length, 1, JSON.stringify(va.body));
    const volumeId = va.body["volume-assignments"][0].volume_id;
    volumeIds.add(volumeId);
    const volume = await waitFor(
      "the volume in-use",
      () => s.admin.cinder.getVolume(volumeId),
      (v) => v.status === "in-use",
    );
    assert.deepEqual(
      volume.attachments.map((x) => x.serverId),
      [a.id],
    );

    // The client rule: rdp's port for her address only, on a group of her desktop's port.
    const rules = [];
    for (const g of port.securityGroupIds) rules.push(...(await s.admin.neutron.getSecurityGroup(g)).rules);
    const client = rules.filter((r) => r.direction === "ingress" && r.remoteIpPrefix === "198.51.100.23/32");
    assert.deepEqual(
      client.map((r) => [r.protocol, r.portRangeMin, r.portRangeMax]),
      [["tcp", 3389, 3389]],
    );
  });

  it("change-password through the broker, then request-vm with the new password", async () => {
    const newPassword = `${bob.password}-new2`;
    const changed = await broker("/v1/change-password/", {
      user: bob.name,
      user_domain_name: "Default",
      password: bob.password,
      new_password: newPassword,
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assertCode(await broker("/v1/request-vm/", login(bob)), 6);
    // Real Keystone revokes tokens to the second; change-password answers after that second,
    // so logging in again at once must work (no wait here: that is what this step checks).
    bob.password = newPassword;
    const again = await desktopFor(bob);
    assert.equal(again.id, desktops.get(bob.name), "Bob keeps his desktop");
  });

  it("OTP: Keystone's MFA rules ask for TOTP (27); a passcode from the secret completes it", async () => {
    // 160 bits: Keystone verifies with cryptography's TOTP, which refuses keys under 128 bits
    // (otplib's default secret is 80 bits: every passcode is then refused with a plain 401).
    const secret = authenticator.generateSecret(20);
    const dave = await makeUser("dave", {
      multi_factor_auth_rules: [["password", "totp"]],
      multi_factor_auth_enabled: true,
    });
    await s.admin.keystone.createTotpCredential(dave.id, secret);
    assertCode(await broker("/v1/request-vm/", login(dave)), 27);
    const d = await desktopFor(dave, { otp: authenticator.generate(secret) });
    assert.ok(![...desktops.entries()].some(([n, id]) => n !== dave.name && id === d.id));
  });

  it("an expired password answers 7", async () => {
    const erin = await makeUser("erin");
    await s.expirePassword(erin);
    assertCode(await broker("/v1/request-vm/", login(erin)), 7);
  });

  it("the reconciler notices a server deleted directly in Nova", async () => {
    const victim = desktops.get(carol.name)!;
    assert.ok((await poolServers()).some((x) => x.id === victim));
    await s.admin.nova.deleteServer(victim);
    await waitFor(
      "the deleted server to leave GET /v1/servers/",
      async () =>
        (await admin("GET", `/v1/servers/?project_id=${poolId}`)).body.servers.map((x: any) => x.id),
      (ids: string[]) => !ids.includes(victim),
    );
    const mine = await admin("GET", `/v1/users/${carol.id}/servers/`);
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    assert.ok(!mine.body.servers.some((x: any) => x.instance_id === victim), JSON.stringify(mine.body));
  });
});
