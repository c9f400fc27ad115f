// Nova 2.1 of the cloud simulator over HTTP: wire shapes, microversions, batches and their
// names, quotas, BUILD → ACTIVE/ERROR, filters and paging, tags, actions, deletion, restore.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { adminToken, demoToken, simHarness, simToken, until } from "../helpers/sim-harness.ts";

async function harness() {
  const sim = await simHarness({
    tokens: {
      admin: adminToken(["admin", "member"]),
      demo: demoToken(),
      other: simToken("other", "p-other", ["member"], "d-demo"),
    },
    buildDelayMs: 30,
    volumeDelayMs: 10,
    projectExists: (p) => ["p-admin", "p-demo", "p-other"].includes(p),
  });
  /** Nova's API under /compute/v2.1, at microversion 2.79 unless told. */
  const call = (method: string, url: string, token?: string, payload?: unknown, version = "2.79") =>
    sim.call(method, `/compute/v2.1${url}`, token, payload, {
      "openstack-api-version": `compute ${version}`,
    });
  return { ...sim, call };
}

const boot = (
  seed: { flavorId: string; imageId: string; networkId: string },
  extra: Record<string, unknown> = {},
) => ({
  server: {
    name: "desk",
    flavorRef: seed.flavorId,
    imageRef: seed.imageId,
    networks: [{ uuid: seed.networkId }],
    ...extra,
  },
});

describe("nova simulator", async () => {
  const h = await harness();
  after(() => h.app.close());

  test("version documents are public and list 2.1 with its microversion range", async () => {
    const root = await h.app.inject({ method: "GET", url: "/compute/" });
    assert.equal(root.statusCode, 200);
    const v21 = JSON.parse(root.body).versions.find((v: { id: string }) => v.id === "v2.1");
    assert.equal(v21.status, "CURRENT");
    assert.equal(v21.min_version, "2.1");
    assert.equal(v21.links[0].href, "http://sim.test/compute/v2.1/");
    const show = await h.app.inject({ method: "GET", url: "/compute/v2.1" });
    assert.equal(JSON.parse(show.body).version.id, "v2.1");
  });

  test("API calls need a token (keystonemiddleware's 401) and echo the microversion", async () => {
    const anon = await h.call("GET", "/servers");
    assert.equal(anon.status, 401);
    assert.equal(anon.body.error.code, 401);
    const res = await h.call("GET", "/servers", "demo", undefined, "2.52");
    assert.equal(res.status, 200);
    assert.equal(res.headers["openstack-api-version"], "compute 2.52");
    assert.equal(res.headers["x-openstack-nova-api-version"], "2.52");
    const legacy = await h.app.inject({
      method: "GET",
      url: "/compute/v2.1/servers",
      headers: { "x-auth-token": "demo", "x-openstack-nova-api-version": "2.26" },
    });
    assert.equal(legacy.headers["openstack-api-version"], "compute 2.26");
    const tooNew = await h.call("GET", "/servers", "demo", undefined, "2.200");
    assert.equal(tooNew.status, 406);
    assert.match(tooNew.body.computeFault.message, /Minimum is 2.1 and maximum is 2.93/);
  });

  test("a batch creates max_count servers named <name>-<n> that go BUILD then ACTIVE with a port", async () => {
    const res = await h.call(
      "POST",
      "/servers",
      "demo",
      boot(h.seed, { name: "batch", min_count: 1, max_count: 3, tags: ["trs"] }),
    );
    assert.equal(res.status, 202);
    assert.deepEqual(Object.keys(res.body.server).sort(), [
      "OS-DCF:diskConfig",
      "adminPass",
      "id",
      "links",
      "security_groups",
    ]);
    const listed = await h.call("GET", "/servers/detail?name=^batch-", "demo");
    assert.deepEqual(listed.body.servers.map((s: { name: string }) => s.name).sort(), [
      "batch-1",
      "batch-2",
      "batch-3",
    ]);
    const first = listed.body.servers[0];
    assert.equal(first.status, "BUILD");
    assert.equal(first["OS-EXT-STS:task_state"], "spawning");
    assert.deepEqual(first.tags, ["trs"]);
    assert.equal(first.flavor.original_name, "m1.small");
    assert.equal(first["OS-EXT-SRV-ATTR:host"], undefined, "extended server attributes are admin-only");
    const active = await until(
      () => h.call("GET", `/servers/${first.id}`, "demo"),
      (r) => r.body.server.status === "ACTIVE",
    );
    const s = active.body.server;
    assert.equal(s["OS-EXT-STS:vm_state"], "active");
    assert.equal(s["OS-EXT-STS:power_state"], 1);
    assert.equal(s["OS-EXT-STS:task_state"], null);
    const [addr] = s.addresses.private;
    assert.match(addr.addr, /^10\.0\.\d+\.\d+$/);
    assert.equal(addr["OS-EXT-IPS:type"], "fixed");
    assert.match(addr["OS-EXT-IPS-MAC:mac_addr"], /^fa:16:3e:/);
    const ports = await h.app.inject({
      method: "GET",
      url: `/network/v2.0/ports?device_id=${s.id}`,
      headers: { "x-auth-token": "demo" },
    });
    const [port] = JSON.parse(ports.body).ports;
    assert.equal(port.device_owner, "compute:nova");
    assert.equal(port.fixed_ips[0].ip_address, addr.addr);
    const asAdmin = await h.call("GET", `/servers/${s.id}`, "admin");
    assert.equal(asAdmin.body.server["OS-EXT-SRV-ATTR:reservation_id"].startsWith("r-"), true);
    assert.equal(asAdmin.body.server["OS-EXT-SRV-ATTR:instance_name"].startsWith("instance-"), true);
  });

  test("return_reservation_id answers the reservation, and tags need 2.52", async () => {
    const res = await h.call(
      "POST",
      "/servers",
      "demo",
      boot(h.seed, { name: "resv", return_reservation_id: true }),
    );
    assert.equal(res.status, 202);
    assert.match(res.body.reservation_id, /^r-[a-z0-9]{8}$/);
    const old = await h.call("POST", "/servers", "demo", boot(h.seed, { tags: ["x"] }), "2.51");
    assert.equal(old.status, 400);
    assert.match(old.body.badRequest.message, /'tags' was unexpected/);
  });

  test("bad create requests answer Nova's 400s", async () => {
    const badFlavor = await h.call("POST", "/servers", "demo", boot(h.seed, { flavorRef: "nope" }));
    assert.equal(badFlavor.status, 400);
    assert.equal(badFlavor.body.badRequest.message, "Invalid flavorRef provided.");
    const badData = await h.call("POST", "/servers", "demo", boot(h.seed, { user_data: "not base64!" }));
    assert.equal(badData.status, 400);
    assert.match(badData.body.badRequest.message, /user_data/);
    const noNet = await h.call("POST", "/servers", "demo", {
      server: { name: "x", flavorRef: h.seed.flavorId, imageRef: h.seed.imageId },
    });
    assert.equal(noNet.status, 400);
    const counts = await h.call("POST", "/servers", "demo", boot(h.seed, { min_count: 3, max_count: 2 }));
    assert.equal(counts.body.badRequest.message, "min_count must be <= max_count");
    const ok = await h.call(
      "POST",
      "/servers",
      "demo",
      boot(h.seed, { name: "ud", user_data: Buffer.from("#!/bin/sh\n").toString("base64") }),
    );
    assert.equal(ok.status, 202);
  });

  test("quotas: partial batches down to min_count, then Nova's 403 message", async () => {
    const put = await h.call("PUT", "/os-quota-sets/p-other", "admin", { quota_set: { instances: 3 } });
    assert.equal(put.status, 200);
    assert.equal(put.body.quota_set.instances, 3);
    const partial = await h.call(
      "POST",
      "/servers",
      "other",
      boot(h.seed, { name: "q", min_count: 1, max_count: 5, return_reservation_id: true }),
    );
    assert.equal(partial.status, 202);
    const mine = await h.call("GET", `/servers?reservation_id=${partial.body.reservation_id}`, "other");
    assert.equal(mine.body.servers.length, 3);
    const refused = await h.call("POST", "/servers", "other", boot(h.seed, { name: "q2" }));
    assert.equal(refused.status, 403);
    assert.equal(
      refused.body.forbidden.message,
      "Quota exceeded for instances: Requested 1, but already used 3 of 3 instances",
    );
    const detail = await h.call("GET", "/os-quota-sets/p-other/detail", "other");
    assert.deepEqual(detail.body.quota_set.instances, { in_use: 3, limit: 3, reserved: 0 });
    const limits = await h.call("GET", "/limits", "other");
    assert.equal(limits.body.limits.absolute.maxTotalInstances, 3);
    assert.equal(limits.body.limits.absolute.totalInstancesUsed, 3);
    assert.equal(limits.body.limits.absolute.totalCoresUsed, 3);
    const notMine = await h.call("GET", "/os-quota-sets/p-demo", "other");
    assert.equal(notMine.status, 403);
    const notAdmin = await h.call("PUT", "/os-quota-sets/p-other", "other", { quota_set: { instances: 50 } });
    assert.equal(notAdmin.status, 403);
    assert.ok(notAdmin.body.forbidden);
  });

  test("errorBuilds sends new servers to ERROR with a fault; stuckBuild keeps them in BUILD", async () => {
    h.ctx.faults.errorBuilds = true;
    const failing = await h.call("POST", "/servers", "demo", boot(h.seed, { name: "failing" }));
    h.ctx.faults.errorBuilds = false;
    const failed = await until(
      () => h.call("GET", `/servers/${failing.body.server.id}`, "demo"),
      (r) => r.body.server.status !== "BUILD",
    );
    assert.equal(failed.body.server.status, "ERROR");
    assert.equal(failed.body.server.fault.code, 500);
    assert.match(failed.body.server.fault.message, /No valid host/);
    assert.equal(typeof failed.body.server.fault.created, "string");
    assert.deepEqual(failed.body.server.addresses, {});

    h.ctx.faults.stuckBuild = true;
    const stuck = await h.call("POST", "/servers", "demo", boot(h.seed, { name: "stuck" }));
    h.ctx.faults.stuckBuild = false;
    const witness = await h.call("POST", "/servers", "demo", boot(h.seed, { name: "witness" }));
    await until(
      () => h.call("GET", `/servers/${witness.body.server.id}`, "demo"),
      (r) => r.body.server.status === "ACTIVE",
    );
    const still = await h.call("GET", `/servers/${stuck.body.server.id}`, "demo");
    assert.equal(still.body.server.status, "BUILD");
    const errored = await h.call("GET", "/servers/detail?status=error", "demo");
    assert.ok(errored.body.servers.some((s: { id: string }) => s.id === failing.body.server.id));
  });

  test("listing filters by tags, tags-any and tenancy, and pages with servers_links", async () => {
    await h.call("POST", "/servers", "demo", boot(h.seed, { name: "tagged", tags: ["trs", "pool-a"] }));
    const both = await h.call("GET", "/servers/detail?tags=trs,pool-a", "demo");
    assert.deepEqual(
      both.body.servers.map((s: { name: string }) => s.name),
      ["tagged"],
    );
    const any = await h.call("GET", "/servers?tags-any=pool-a,none", "demo");
    assert.equal(any.body.servers.length, 1);
    assert.deepEqual(Object.keys(any.body.servers[0]).sort(), ["id", "links", "name"]);

    const forbidden = await h.call("GET", "/servers/detail?all_tenants=1", "demo");
    assert.equal(forbidden.status, 403);
    const others = await h.call("GET", "/servers/detail?all_tenants=1&project_id=p-other", "admin");
    assert.ok(others.body.servers.length >= 3);
    assert.ok(others.body.servers.every((s: { tenant_id: string }) => s.tenant_id === "p-other"));
    const ownOnly = await h.call("GET", "/servers", "demo");
    const otherIds = new Set(others.body.servers.map((s: { id: string }) => s.id));
    assert.ok(ownOnly.body.servers.every((s: { id: string }) => !otherIds.has(s.id)));
    const hidden = await h.call("GET", `/servers/${others.body.servers[0].id}`, "demo");
    assert.equal(hidden.status, 404);
    assert.equal(hidden.body.itemNotFound.code, 404);

    const all = (await h.call("GET", "/servers", "demo")).body.servers;
    const page1 = await h.call("GET", "/servers?limit=2", "demo");
    assert.equal(page1.body.servers.length, 2);
    const next = new URL(page1.body.servers_links[0].href);
    assert.equal(next.searchParams.get("marker"), page1.body.servers[1].id);
    const page2 = await h.call("GET", `/servers?limit=2&marker=${next.searchParams.get("marker")}`, "demo");
    assert.deepEqual(
      [...page1.body.servers, ...page2.body.servers].map((s: { id: string }) => s.id),
      all.slice(0, 4).map((s: { id: string }) => s.id),
    );
    const badMarker = await h.call("GET", "/servers?marker=nope", "demo");
    assert.equal(badMarker.status, 400);
  });

  test("server tags can change only once the server has settled", async () => {
    const created = await h.call("POST", "/servers", "demo", boot(h.seed, { name: "tags" }));
    const id = created.body.server.id;
    const early = await h.call("PUT", `/servers/${id}/tags/trs`, "demo");
    assert.equal(early.status, 409);
    assert.match(early.body.conflictingRequest.message, /Cannot 'update tags' instance .* vm_state building/);
    await until(
      () => h.call("GET", `/servers/${id}`, "demo"),
      (r) => r.body.server.status === "ACTIVE",
    );
    assert.equal((await h.call("PUT", `/servers/${id}/tags/trs`, "demo")).status, 201);
    assert.equal((await h.call("PUT", `/servers/${id}/tags/trs`, "demo")).status, 204);
    assert.equal((await h.call("GET", `/servers/${id}/tags/trs`, "demo")).status, 204);
    const replaced = await h.call("PUT", `/servers/${id}/tags`, "demo", { tags: ["a", "b"] });
    assert.deepEqual(replaced.body.tags, ["a", "b"]);
    assert.equal((await h.call("DELETE", `/servers/${id}/tags/a`, "demo")).status, 204);
    assert.equal((await h.call("GET", `/servers/${id}/tags/a`, "demo")).status, 404);
    assert.deepEqual((await h.call("GET", `/servers/${id}/tags`, "demo")).body.tags, ["b"]);
    assert.equal((await h.call("GET", `/servers/${id}/tags`, "demo", undefined, "2.25")).status, 404);
  });

  test("stop, start and security group actions with Nova's conflicts", async () => {
    const created = await h.call("POST", "/servers", "demo", boot(h.seed, { name: "acts" }));
    const id = created.body.server.id;
    const tooEarly = await h.call("POST", `/servers/${id}/action`, "demo", { "os-stop": null });
    assert.equal(tooEarly.status, 409);
    await until(
      () => h.call("GET", `/servers/${id}`, "demo"),
      (r) => r.body.server.status === "ACTIVE",
    );
    assert.equal((await h.call("POST", `/servers/${id}/action`, "demo", { "os-stop": null })).status, 202);
    await until(
      () => h.call("GET", `/servers/${id}`, "demo"),
      (r) => r.body.server.status === "SHUTOFF",
    );
    const again = await h.call("POST", `/servers/${id}/action`, "demo", { "os-stop": null });
    assert.equal(again.status, 409);
    assert.equal((await h.call("POST", `/servers/${id}/action`, "demo", { "os-start": null })).status, 202);
    await until(
      () => h.call("GET", `/servers/${id}`, "demo"),
      (r) => r.body.server.status === "ACTIVE",
    );

    const sg = await h.app.inject({
      method: "POST",
      url: "/network/v2.0/security-groups",
      headers: { "x-auth-token": "demo" },
      payload: { security_group: { name: "rdp" } },
    });
    assert.equal(sg.statusCode, 201);
    assert.equal(
      (await h.call("POST", `/servers/${id}/action`, "demo", { addSecurityGroup: { name: "rdp" } })).status,
      202,
    );
    const shown = await h.call("GET", `/servers/${id}`, "demo");
    assert.deepEqual(shown.body.server.security_groups.map((g: { name: string }) => g.name).sort(), [
      "default",
      "rdp",
    ]);
    const twice = await h.call("POST", `/servers/${id}/action`, "demo", {
      addSecurityGroup: { name: "rdp" },
    });
    assert.equal(twice.status, 400);
    const missing = await h.call("POST", `/servers/${id}/action`, "demo", {
      addSecurityGroup: { name: "nope" },
    });
    assert.equal(missing.status, 404);
    assert.equal(
      (await h.call("POST", `/servers/${id}/action`, "demo", { removeSecurityGroup: { name: "rdp" } }))
        .status,
      202,
    );
  });

  test("delete answers 204, the server goes away with its port, and changes-since reports it", async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const created = await h.call("POST", "/servers", "demo", boot(h.seed, { name: "doomed" }));
    const id = created.body.server.id;
    await until(
      () => h.call("GET", `/servers/${id}`, "demo"),
      (r) => r.body.server.status === "ACTIVE",
    );
    const del = await h.call("DELETE", `/servers/${id}`, "demo");
    assert.equal(del.status, 204);
    const gone = await until(
      () => h.call("GET", `/servers/${id}`, "demo"),
      (r) => r.status === 404,
    );
    assert.equal(gone.body.itemNotFound.message, `Instance ${id} could not be found.`);
    const ports = await h.app.inject({
      method: "GET",
      url: `/network/v2.0/ports?device_id=${id}`,
      headers: { "x-auth-token": "demo" },
    });
    assert.deepEqual(JSON.parse(ports.body).ports, []);
    const changed = await h.call("GET", `/servers/detail?changes-since=${encodeURIComponent(since)}`, "demo");
    const tomb = changed.body.servers.find((s: { id: string }) => s.id === id);
    assert.equal(tomb.status, "DELETED");
  });

  test("flavors, availability zones and update", async () => {
    const flavors = await h.call("GET", "/flavors/detail", "demo");
    const small = flavors.body.flavors.find((f: { name: string }) => f.name === "m1.small");
    assert.equal(small.id, h.seed.flavorId);
    assert.equal(small.vcpus, 1);
    assert.equal(small["os-flavor-access:is_public"], true);
    assert.equal((await h.call("GET", "/flavors/nope", "demo")).status, 404);
    const az = await h.call("GET", "/os-availability-zone", "demo");
    assert.equal(az.body.availabilityZoneInfo[0].zoneName, "nova");
    const created = await h.call("POST", "/servers", "demo", boot(h.seed, { name: "renamed" }));
    const upd = await h.call("PUT", `/servers/${created.body.server.id}`, "demo", {
      server: { name: "new-name" },
    });
    assert.equal(upd.status, 200);
    assert.equal(upd.body.server.name, "new-name");
  });

  test("faults: errorRate answers 503 in Nova's body", async () => {
    h.ctx.faults.errorRate = 1;
    const res = await h.call("GET", "/servers", "demo");
    h.ctx.faults.errorRate = 0;
    assert.equal(res.status, 503);
    assert.equal(res.body.serviceUnavailable.code, 503);
  });

  test("a snapshot restores into a new simulator and servers mid-BUILD finish there", async () => {
    const created = await h.call("POST", "/servers", "demo", boot(h.seed, { name: "traveller" }));
    const snap = JSON.parse(JSON.stringify(h.cloud.snapshot()));
    const other = await harness();
    try {
      other.cloud.restore(snap);
      const id = created.body.server.id;
      const done = await until(
        () => other.call("GET", `/servers/${id}`, "demo"),
        (r) => r.body.server?.status === "ACTIVE",
      );
      assert.equal(done.body.server.name, "traveller");
      assert.ok(done.body.server.addresses.private.length === 1);
      const quota = await other.call("GET", "/os-quota-sets/p-other", "admin");
      assert.equal(quota.body.quota_set.instances, 3);
    } finally {
      await other.app.close();
    }
  });
});
