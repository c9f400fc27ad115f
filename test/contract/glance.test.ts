// Glance's contract as rs-server relies on it: images checked for a pool template and shown.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type CloudUnderTest, cloudUnderTest, kindOf, MISSING } from "./cloud-under-test.ts";

describe("Glance contract", () => {
  let cut: CloudUnderTest;

  before(async () => {
    cut = await cloudUnderTest();
  });

  after(async () => {
    await cut?.stop();
  });

  test("images are listed flat, and one is fetched by id with the same view", async () => {
    const images = await cut.cloud.glance.listImages();
    assert.ok(images.length > 0);
    const active = images.find((i) => i.status === "active");
    assert.ok(active, "an active image");
    const one = await cut.cloud.glance.getImage(active.id);
    assert.deepEqual(
      [one.id, one.name, one.status, one.visibility, one.minDisk, one.minRam],
      [active.id, active.name, "active", active.visibility, active.minDisk, active.minRam],
    );
    assert.ok(["public", "private", "shared", "community"].includes(one.visibility));
    assert.ok(Array.isArray(one.tags));
    assert.ok(!Number.isNaN(Date.parse(one.created)));
    assert.equal(one.raw.id, active.id);
    assert.equal(one.raw.image, undefined, "Glance v2 does not wrap the image");
  });

  test("filters by status and name", async () => {
    const images = await cut.cloud.glance.listImages({ status: "active" });
    assert.ok(images.length > 0 && images.every((i) => i.status === "active"));
    const named = images.find((i) => i.name);
    assert.ok(named);
    const byName = await cut.cloud.glance.listImages({ name: named.name! });
    assert.ok(byName.length > 0 && byName.every((i) => i.name === named.name));
    assert.ok(byName.some((i) => i.id === named.id));
    assert.deepEqual(await cut.cloud.glance.listImages({ name: `rsct-none-${MISSING}` }), []);
  });

  test("paging through `next` gives the same images as one page", async () => {
    const all = await cut.cloud.glance.listImages();
    const paged = await cut.cloud.glance.listImages({ pageSize: 1 });
    assert.deepEqual(paged.map((i) => i.id).sort(), all.map((i) => i.id).sort());
  });

  test("an unknown image id is not_found", async () => {
    assert.equal(await kindOf(cut.cloud.glance.getImage(MISSING)), "not_found");
  });
});
