// What `npm start` gives someone trying rs-server: the runtime starts its own simulator, seeds
// a "desktops" pool for the demo user, and the demo user gets a desktop through the broker.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pino from "pino";
import { parse } from "yaml";
import { loadConfig } from "../../src/config/load.ts";
import { type Runtime, startRuntime } from "../../src/runtime.ts";
import type { Store } from "../../src/store/db.ts";
import { createTestStore } from "../helpers/db.ts";

let runtime: Runtime;
let store: Store;
let dataDir: string;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rs-try-"));
  store = await createTestStore();
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      admin: { port: 0 },
      broker: { port: 0 },
      portal: { port: 0 },
      simulator: { buildDelayMs: 100 },
    },
  });
  runtime = await startRuntime(config, { store, logger: pino({ level: "silent" }) });
});
after(async () => {
  await runtime?.stop();
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test("the first start seeds a desktops pool and a clouds.yaml with both clouds", async () => {
  const pools = await runtime.store.db.selectFrom("pools").select(["name", "min_reserve_vm"]).execute();
  assert.deepEqual(pools, [{ name: "desktops", min_reserve_vm: 2 }]);
  const clouds = parse(readFileSync(join(dataDir, "clouds.yaml"), "utf8")) as {
    clouds: Record<string, unknown>;
  };
  assert.deepEqual(Object.keys(clouds.clouds).sort(), ["rs-admin", "rs-demo"]);
});

test("the demo user gets a desktop through the broker", async () => {
  const demo = runtime.simulator!.demo;
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${runtime.brokerUrl}/v1/${path}/`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(token ? { "X-Auth-Token": token } : {}) },
      body: JSON.stringify(body),
    });
  const projects = await post("get-projects", {
    user: demo.username,
    password: demo.password,
    user_domain_name: demo.userDomainName,
  });
  assert.deepEqual(((await projects.json()) as { projects: string[] }).projects, ["desktops"]);
  const accepted = await post("request-vm", {
    user: demo.username,
    password: demo.password,
    user_domain_name: demo.userDomainName,
  });
  assert.equal(accepted.status, 200);
  const { request_id } = (await accepted.json()) as { request_id: string };
  const token = accepted.headers.get("x-auth-token")!;
  for (let i = 0; i < 300; i++) {
    const res = await post("get-vm", { request: request_id }, token);
    const body = (await res.json()) as { status?: string; server?: { ip: string; status: string } };
    assert.equal(res.status, 200, JSON.stringify(body));
    if (body.status === "completed") {
      assert.equal(body.server?.status, "ACTIVE");
      assert.match(body.server?.ip ?? "", /^10\.0\./);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("the demo desktop was never completed");
});
