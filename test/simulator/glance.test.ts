// Glance v2 of the cloud simulator over HTTP: version discovery, the image schema's keys,
// visibility, paging and Glance's 404 page.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { demoToken, simHarness } from "../helpers/sim-harness.ts";

describe("glance simulator", async () => {
  const { app, seed } = await simHarness({
    tokens: { demo: demoToken() },
    buildDelayMs: 20,
    volumeDelayMs: 10,
  });
  after(() => app.close());
  const get = (url: string, headers: Record<string, string> = { "x-auth-token": "demo" }) =>
    app.inject({ method: "GET", url, headers });

  test("versions: 300 Multiple Choices at the root, 200 at /versions", async () => {
    const root = await get("/image/", {});
    assert.equal(root.statusCode, 300);
    const current = JSON.parse(root.body).versions.find((v: { status: string }) => v.status === "CURRENT");
    assert.equal(current.links[0].href, "http://sim.test/image/v2/");
    assert.equal((await get("/image/versions", {})).statusCode, 200);
  });

  test("the seeded image has the image schema's keys", async () => {
    const res = await get(`/image/v2/images/${seed.imageId}`);
    assert.equal(res.statusCode, 200);
    const image = JSON.parse(res.body);
    for (const key of [
      "id",
      "name",
      "status",
      "visibility",
      "disk_format",
      "container_format",
      "min_disk",
      "min_ram",
      "size",
      "checksum",
      "created_at",
      "updated_at",
      "tags",
      "owner",
      "self",
      "file",
      "schema",
    ]) {
      assert.ok(key in image, `missing ${key}`);
    }
    assert.equal(image.status, "active");
    assert.equal(image.visibility, "public");
    assert.equal(image.self, `/v2/images/${seed.imageId}`);
    assert.equal(image.schema, "/v2/schemas/image");
    assert.match(image.checksum, /^[0-9a-f]{32}$/);
  });

  test("list filters and pages with next", async () => {
    const all = JSON.parse((await get("/image/v2/images")).body);
    assert.equal(all.first, "/v2/images");
    assert.equal(all.schema, "/v2/schemas/images");
    assert.deepEqual(
      all.images.map((i: { id: string }) => i.id),
      [seed.imageId],
    );
    const none = JSON.parse((await get("/image/v2/images?name=windows")).body);
    assert.deepEqual(none.images, []);
    const paged = JSON.parse((await get("/image/v2/images?limit=0")).body);
    assert.deepEqual(paged.images, []);
    assert.equal((await get("/image/v2/images?visibility=bogus")).statusCode, 400);
  });

  test("unknown image: 404 with Glance's message; no token: 401", async () => {
    const plain = await get("/image/v2/images/nope");
    assert.equal(plain.statusCode, 404);
    assert.match(
      plain.body,
      /^404 Not Found\n\nThe resource could not be found\.\n\nNo image found with ID nope/,
    );
    const json = await get("/image/v2/images/nope", { "x-auth-token": "demo", accept: "application/json" });
    assert.equal(JSON.parse(json.body).code, "404 Not Found");
    assert.equal((await get("/image/v2/images", {})).statusCode, 401);
  });
});
