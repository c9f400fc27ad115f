// Cinder v3 of the cloud simulator over HTTP: creating → available, attachment through Nova
// (attaching → in-use → detaching → available), delete rules, quotas, microversions.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { adminToken, demoToken, simHarness, until } from "../helpers/sim-harness.ts";

const harness = () =>
  simHarness({
    tokens: { admin: adminToken(), demo: demoToken() },
    buildDelayMs: 20,
    volumeDelayMs: 20,
    projectExists: (p) => p === "p-admin" || p === "p-demo",
  });

describe("cinder simulator", async () => {
  const h = await harness();
  after(() => h.app.close());
  const v = (path: string) => `/volume/v3/p-demo${path}`;
  const volume = (id: string) => h.call("GET", v(`/volumes/${id}`), "demo");

  test("version discovery answers 300 at the root and 200 at /v3/", async () => {
    const root = await h.call("GET", "/volume/");
    assert.equal(root.status, 300);
    assert.equal(root.body.versions[0].id, "v3.0");
    assert.equal(root.body.versions[0].min_version, "3.0");
    assert.equal((await h.call("GET", "/volume/v3/")).status, 200);
  });

  test("a volume is created, becomes available, and negotiates microversions", async () => {
    const created = await h.call(
      "POST",
      v("/volumes"),
      "demo",
      { volume: { size: 2, name: "home", metadata: { owner: "u1" } } },
      {
        "openstack-api-version": "volume 3.63",
      },
    );
    assert.equal(created.status, 202);
    assert.equal(created.headers["openstack-api-version"], "volume 3.63");
    const vol = created.body.volume;
    assert.equal(vol.status, "creating");
    assert.equal(vol.volume_type, "__DEFAULT__");
    assert.equal(vol.volume_type_id, h.seed.volumeTypeId);
    assert.equal(vol["os-vol-tenant-attr:tenant_id"], "p-demo");
    assert.equal(vol.bootable, "false");
    const ready = await until(
      () => volume(vol.id),
      (r) => r.body.volume.status === "available",
    );
    assert.deepEqual(ready.body.volume.attachments, []);
    const byMeta = await h.call(
      "GET",
      v(`/volumes/detail?metadata=${encodeURIComponent('{"owner":"u1"}')}`),
      "demo",
    );
    assert.deepEqual(
      byMeta.body.volumes.map((x: { id: string }) => x.id),
      [vol.id],
    );
    const summary = await h.call("GET", v("/volumes"), "demo");
    assert.deepEqual(Object.keys(summary.body.volumes[0]).sort(), ["id", "links", "name"]);
    const compute = await h.call("GET", v("/volumes"), "demo", undefined, {
      "openstack-api-version": "compute 2.79",
    });
    assert.equal(compute.status, 400);
  });

  test("attaching through Nova drives attaching → in-use, delete is refused, detach frees it", async () => {
    const created = await h.call("POST", v("/volumes"), "demo", { volume: { size: 1 } });
    const volId = created.body.volume.id;
    await until(
      () => volume(volId),
      (r) => r.body.volume.status === "available",
    );
    const nova = (method: string, path: string, payload?: unknown) =>
      h.call(method, `/compute/v2.1${path}`, "demo", payload, { "openstack-api-version": "compute 2.79" });
    const boot = await nova("POST", "/servers", {
      server: { name: "vm", flavorRef: h.seed.flavorId, imageRef: h.seed.imageId, networks: "none" },
    });
    const serverId = boot.body.server.id;
    const early = await nova("POST", `/servers/${serverId}/os-volume_attachments`, {
      volumeAttachment: { volumeId: volId },
    });
    assert.equal(early.status, 409);
    await until(
      () => nova("GET", `/servers/${serverId}`),
      (r) => r.body.server.status === "ACTIVE",
    );

    const attach = await nova("POST", `/servers/${serverId}/os-volume_attachments`, {
      volumeAttachment: { volumeId: volId },
    });
    assert.equal(attach.status, 200);
    assert.deepEqual(attach.body.volumeAttachment, {
      id: volId,
      serverId,
      volumeId: volId,
      device: "/dev/vdb",
      tag: null,
      delete_on_termination: false,
    });
    assert.equal((await volume(volId)).body.volume.status, "attaching");
    const inUse = await until(
      () => volume(volId),
      (r) => r.body.volume.status === "in-use",
    );
    const [att] = inUse.body.volume.attachments;
    assert.equal(att.server_id, serverId);
    assert.equal(att.device, "/dev/vdb");
    assert.equal(att.volume_id, volId);
    const server = await nova("GET", `/servers/${serverId}`);
    assert.deepEqual(server.body.server["os-extended-volumes:volumes_attached"], [
      { id: volId, delete_on_termination: false },
    ]);

    const refused = await h.call("DELETE", v(`/volumes/${volId}`), "demo");
    assert.equal(refused.status, 400);
    assert.match(
      refused.body.badRequest.message,
      /^Invalid volume: Volume status must be available or error/,
    );
    const twice = await nova("POST", `/servers/${serverId}/os-volume_attachments`, {
      volumeAttachment: { volumeId: volId },
    });
    assert.equal(twice.status, 400);

    assert.equal((await nova("DELETE", `/servers/${serverId}/os-volume_attachments/${volId}`)).status, 202);
    assert.equal((await volume(volId)).body.volume.status, "detaching");
    const free = await until(
      () => volume(volId),
      (r) => r.body.volume.status === "available",
    );
    assert.deepEqual(free.body.volume.attachments, []);
    assert.equal(
      (await nova("GET", `/servers/${serverId}/os-volume_attachments`)).body.volumeAttachments.length,
      0,
    );

    assert.equal((await h.call("DELETE", v(`/volumes/${volId}`), "demo")).status, 202);
    const gone = await until(
      () => volume(volId),
      (r) => r.status === 404,
    );
    assert.deepEqual(gone.body, {
      itemNotFound: { code: 404, message: `Volume ${volId} could not be found.` },
    });
  });

  test("quotas: volumes and gigabytes answer 413 overLimit as Cinder does", async () => {
    const set = await h.call("PUT", "/volume/v3/p-admin/os-quota-sets/p-demo", "admin", {
      quota_set: { volumes: 3, gigabytes: 10 },
    });
    assert.equal(set.status, 200);
    const usage = await h.call("GET", v("/os-quota-sets/p-demo?usage=true"), "demo");
    const used = usage.body.quota_set.volumes.in_use;
    assert.equal(usage.body.quota_set.volumes.limit, 3);
    const big = await h.call("POST", v("/volumes"), "demo", { volume: { size: 50 } });
    assert.equal(big.status, 413);
    assert.equal(big.body.overLimit.code, 413);
    assert.equal(big.body.overLimit.retryAfter, "0");
    assert.match(
      big.body.overLimit.message,
      /^VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota\. Requested 50G, quota is 10G/,
    );
    for (let i = used; i < 3; i++) {
      assert.equal((await h.call("POST", v("/volumes"), "demo", { volume: { size: 1 } })).status, 202);
    }
    const over = await h.call("POST", v("/volumes"), "demo", { volume: { size: 1 } });
    assert.equal(over.status, 413);
    assert.equal(
      over.body.overLimit.message,
      "VolumeLimitExceeded: Maximum number of volumes allowed (3) exceeded for quota 'volumes'.",
    );
    assert.equal(
      (await h.call("PUT", v("/os-quota-sets/p-demo"), "demo", { quota_set: { volumes: 50 } })).status,
      403,
    );
  });

  test("types list the default type; the URL project must be the token's", async () => {
    const types = await h.call("GET", v("/types"), "demo");
    assert.deepEqual(
      types.body.volume_types.map((t: { name: string }) => t.name),
      ["__DEFAULT__"],
    );
    const mismatch = await h.call("GET", "/volume/v3/p-admin/volumes", "demo");
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.badRequest.message, "Malformed request url");
    const badType = await h.call("POST", v("/volumes"), "demo", { volume: { size: 1, volume_type: "gold" } });
    assert.equal(badType.status, 404);
    assert.equal((await h.call("GET", v("/volumes"))).status, 401);
  });
});
