// The cloud simulator at the scale of a large VDI site: 10,000 servers in one project, created
// 1,000 per batched request, all reaching ACTIVE, then listed page by page in full.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { adminToken, simHarness, simToken } from "../helpers/sim-harness.ts";

describe("cloud simulator at scale", async () => {
  const sim = await simHarness({
    tokens: { admin: adminToken(), pool: simToken("pool", "p-pool", ["member"]) },
    buildDelayMs: 50,
    volumeDelayMs: 10,
    demoProjectId: "p-pool",
  });
  const { app, seed } = sim;
  after(() => app.close());
  const call = (method: string, url: string, token: string, payload?: unknown) =>
    sim.call(method, url, token, payload, { "openstack-api-version": "compute 2.79" });

  test("10,000 servers in one project: batches of 1,000 reach ACTIVE and list completely", async () => {
    const nova = await call("PUT", "/compute/v2.1/os-quota-sets/p-pool", "admin", {
      quota_set: { instances: -1, cores: -1, ram: -1 },
    });
    assert.equal(nova.status, 200);
    const neutron = await call("PUT", "/network/v2.0/quotas/p-pool", "admin", { quota: { port: -1 } });
    assert.equal(neutron.status, 200);

    for (let batch = 0; batch < 10; batch++) {
      const res = await call("POST", "/compute/v2.1/servers", "pool", {
        server: {
          name: `desk${batch}`,
          flavorRef: seed.flavorId,
          imageRef: seed.imageId,
          networks: [{ uuid: seed.networkId }],
          min_count: 1000,
          max_count: 1000,
          tags: ["trs"],
          return_reservation_id: true,
        },
      });
      assert.equal(res.status, 202);
    }

    // Poll until nothing is left in BUILD; bounded by attempts, not by a clock.
    let building = -1;
    for (let i = 0; i < 2000 && building !== 0; i++) {
      const res = await call("GET", "/compute/v2.1/servers?status=BUILD&limit=1", "pool");
      building = res.body.servers.length;
      if (building) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(building, 0);

    const started = performance.now();
    const first = await call("GET", "/compute/v2.1/servers/detail", "pool");
    const firstPageMs = performance.now() - started;
    assert.equal(first.body.servers.length, 1000, "a page is capped at Nova's max_limit");
    assert.ok(first.body.servers_links, "a full page links to the next one");
    console.log(`first /servers/detail page of 1000 (of 10,000) in ${firstPageMs.toFixed(0)} ms`);

    const ids = new Set<string>();
    const ips = new Set<string>();
    let url = "/compute/v2.1/servers/detail?tags=trs";
    for (let page = 0; page < 20 && url; page++) {
      const res = await call("GET", url, "pool");
      for (const s of res.body.servers) {
        assert.equal(s.status, "ACTIVE");
        ids.add(s.id);
        ips.add(s.addresses.private[0].addr);
      }
      const next = res.body.servers_links?.[0]?.href as string | undefined;
      url = next ? next.replace("http://sim.test", "") : "";
    }
    assert.equal(ids.size, 10_000);
    assert.equal(ips.size, 10_000, "every server has its own fixed IP");
    const limits = await call("GET", "/compute/v2.1/limits", "pool");
    assert.equal(limits.body.limits.absolute.totalInstancesUsed, 10_000);
    const names = await call("GET", "/compute/v2.1/servers?name=^desk3-1000$", "pool");
    assert.equal(names.body.servers.length, 1);
  });
});
