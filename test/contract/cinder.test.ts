// Cinder's contract as rs-server relies on it for users' persistent volumes: types, creation
// creating → available, attachment through Nova (in-use) and detachment (available again),
// filters and paging, deletion, and quota refusals for a project with a low quota.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CinderVolume } from "../../src/cloud/cinder.ts";
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

const VOLUME_TIMEOUT_MS = 120_000;

describe("Cinder contract", () => {
  let cut: CloudUnderTest;
  let d: Discovered;
  let projectId: string;
  let volume: CinderVolume;
  let serverId: string;
  const name = unique("vol");
  useCloudUnderTest((c) => ({ cut, d, projectId } = c));

  const settled = (id: string, status: string) =>
    waitFor(
      cut,
      `volume ${id} ${status}`,
      () => cut.cloud.cinder.getVolume(id),
      (v) => v.status === status || v.status.startsWith("error"),
      VOLUME_TIMEOUT_MS,
    );

  test("volume types: listed, fetched by id, unknown is not_found", async () => {
    const types = await cut.cloud.cinder.listVolumeTypes();
    assert.ok(types.length > 0);
    const one = await cut.cloud.cinder.getVolumeType(types[0].id);
    assert.deepEqual([one.id, one.name], [types[0].id, types[0].name]);
    assert.equal(await kindOf(cut.cloud.cinder.getVolumeType(MISSING)), "not_found");
  });

  test("a volume is created (creating) and becomes available with what was asked", async () => {
    const { cinder, nova } = cut.cloud;
    // A server to attach to later, booting while the volume is made.
    const created = await nova.createServers({
      name: unique("vm"),
      flavorId: d.flavor.id,
      imageId: d.image.id,
      networkIds: [d.network.id],
    });
    serverId = created.ids[0];
    cut.defer(() => nova.deleteServer(serverId, { ignoreNotFound: true }));

    const [type] = await cinder.listVolumeTypes();
    volume = await cinder.createVolume({ size: 1, name, volumeType: type.name, metadata: { owner: name } });
    cut.defer(() => cinder.deleteVolume(volume.id, { ignoreNotFound: true }));
    assert.equal(volume.status, "creating");
    assert.equal(volume.size, 1);
    assert.equal(volume.name, name);

    const ready = await settled(volume.id, "available");
    assert.equal(ready.status, "available");
    assert.equal(ready.size, 1);
    assert.equal(ready.volumeType, type.name);
    assert.equal(ready.metadata.owner, name);
    assert.equal(ready.projectId, projectId);
    assert.deepEqual(ready.attachments, []);
    assert.equal(ready.raw.id, volume.id);
  });

  test("volumes are listed by name, status, metadata and project, across pages", async () => {
    const cinder = cut.cloud.cinder;
    const other = await cinder.createVolume({ size: 1, name: `${name}-b`, metadata: { owner: name } });
    cut.defer(() => cinder.deleteVolume(other.id, { ignoreNotFound: true }));
    await settled(other.id, "available");
    const idsOf = (list: CinderVolume[]) => list.map((v) => v.id).sort();
    assert.deepEqual(idsOf(await cinder.listVolumes({ name })), [volume.id]);
    assert.deepEqual(
      idsOf(await cinder.listVolumes({ metadata: { owner: name } })),
      [volume.id, other.id].sort(),
    );
    assert.ok((await cinder.listVolumes({ status: "available" })).some((v) => v.id === volume.id));
    assert.ok(!(await cinder.listVolumes({ status: "in-use" })).some((v) => v.id === volume.id));
    assert.deepEqual(idsOf(await cinder.listVolumes({ projectId, name })), [volume.id]);
    const paged = await cinder.listVolumes({ metadata: { owner: name }, pageSize: 1 });
    assert.deepEqual(idsOf(paged), [volume.id, other.id].sort());
    assert.equal(await cinder.deleteVolume(other.id), true);
    await waitGone(cut, `volume ${other.id}`, () => cinder.getVolume(other.id), VOLUME_TIMEOUT_MS);
  });

  test("attached through Nova the volume is in-use; detached it is available again", async () => {
    const { cinder, nova } = cut.cloud;
    await waitFor(
      cut,
      `server ${serverId} ACTIVE`,
      () => nova.getServer(serverId),
      (s) => s.status === "ACTIVE" || s.status === "ERROR",
      cut.buildTimeoutMs,
    );
    const attachment = await nova.attachVolume(serverId, volume.id);
    assert.equal(attachment.volumeId, volume.id);
    assert.equal(attachment.serverId, serverId);
    assert.match(attachment.device ?? "", /^\/dev\//);

    const inUse = await settled(volume.id, "in-use");
    assert.equal(inUse.status, "in-use");
    assert.deepEqual(
      inUse.attachments.map((a) => a.serverId),
      [serverId],
    );
    assert.deepEqual(
      (await nova.listVolumeAttachments(serverId)).map((a) => a.volumeId),
      [volume.id],
    );
    assert.equal(await kindOf(cinder.deleteVolume(volume.id)), "bad_request");
    assert.equal(await kindOf(nova.attachVolume(serverId, MISSING)), "not_found");

    assert.equal(await nova.detachVolume(serverId, volume.id), true);
    const back = await settled(volume.id, "available");
    assert.equal(back.status, "available");
    assert.deepEqual(back.attachments, []);
    await waitFor(
      cut,
      "the attachment gone from Nova",
      () => nova.listVolumeAttachments(serverId),
      (list) => list.length === 0,
      VOLUME_TIMEOUT_MS,
    );
    assert.equal(await kindOf(nova.detachVolume(serverId, volume.id)), "not_found");
    assert.equal(await nova.detachVolume(serverId, volume.id, { ignoreNotFound: true }), false);
  });

  test("deleted volumes go away; unknown ids are not_found", async () => {
    const cinder = cut.cloud.cinder;
    assert.equal(await cinder.deleteVolume(volume.id), true);
    await waitGone(cut, `volume ${volume.id}`, () => cinder.getVolume(volume.id), VOLUME_TIMEOUT_MS);
    assert.equal(await kindOf(cinder.getVolume(MISSING)), "not_found");
    assert.equal(await kindOf(cinder.deleteVolume(MISSING)), "not_found");
    assert.equal(await cinder.deleteVolume(MISSING, { ignoreNotFound: true }), false);
  });

  test("quota: usage per project, and a volume over a low gigabytes quota is quota_exceeded", async () => {
    const cinder = cut.cloud.cinder;
    const project = await cut.createProject("volquota");
    cut.defer(() => cinder.resetQuotas(project.id));
    const before = await cinder.getQuotaUsage(project.id);
    for (const k of ["volumes", "gigabytes"]) {
      assert.equal(typeof before[k]?.limit, "number", k);
      assert.equal(before[k].inUse, 0, k);
    }
    await cinder.setQuotas(project.id, { gigabytes: 1 });
    assert.equal((await cinder.getQuotaUsage(project.id)).gigabytes.limit, 1);
    const over = cinder.createVolume({ size: 2, name: unique("over"), projectId: project.id });
    assert.equal(await kindOf(over), "quota_exceeded");

    // Within the quota the same call, in the same project, works.
    const fits = await cinder.createVolume({ size: 1, name: unique("fits"), projectId: project.id });
    cut.defer(() => cinder.deleteVolume(fits.id, { ignoreNotFound: true }));
    const made = await settled(fits.id, "available");
    assert.equal(made.projectId, project.id);
    assert.equal((await cinder.getQuotaUsage(project.id)).volumes.inUse, 1);
    assert.equal(await cinder.deleteVolume(fits.id), true);
    await waitGone(cut, `volume ${fits.id}`, () => cinder.getVolume(fits.id), VOLUME_TIMEOUT_MS);

    // DELETE os-quota-sets/{project} puts the project back on the defaults.
    await cinder.resetQuotas(project.id);
    assert.equal((await cinder.getQuotaUsage(project.id)).gigabytes.limit, before.gigabytes.limit);
  });
});
