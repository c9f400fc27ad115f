// openstack.serviceRole naming no Keystone role: said at start in the log, and creating a pool
// then answers in the admin envelope (not a bare 500) and leaves no Keystone project behind.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import pino from "pino";
import { type Stack, startStack } from "../helpers/stack.ts";

let s: Stack;
const lines: string[] = [];

before(async () => {
  s = await startStack(
    { openstack: { serviceRole: "no-such-role" }, broker: { enabled: false } },
    { logger: pino({ level: "error" }, { write: (line: string) => lines.push(line) }) },
  );
});
after(async () => {
  await s?.stop();
});

test("a service role Keystone does not have is logged at start and refuses pool creation cleanly", async () => {
  for (let i = 0; i < 200 && !lines.some((l) => /serviceRole names no Keystone role/.test(l)); i++)
    await new Promise((r) => setTimeout(r, 25));
  assert.ok(
    lines.some((l) => /serviceRole names no Keystone role/.test(l)),
    lines.join(""),
  );

  const name = `svc-${Date.now()}`;
  const res = await fetch(`${s.adminUrl}/v1/projects/`, {
    method: "POST",
    headers: { "X-Auth-Token": s.adminToken, "Content-Type": "application/json" },
    body: JSON.stringify({
      project: { name, flavor_id: s.sim.seed.flavorId, image_id: s.sim.seed.imageId },
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 503, JSON.stringify(body));
  assert.match(body.error.message, /no-such-role/);
  const left = await s.runtime.deps.cloud.keystone.listProjects({ name });
  assert.deepEqual(left, [], "the half-made project is removed");
});
