// Failed builds are visible: each instance whose build fails is logged once with Nova's fault
// message, shows that message as its `fault`, and counts on its pool's `reserve`
// (failed_builds, last_failure), whoever sees the failure first (the build watcher, a listing,
// an allocation waiting for the instance).
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, beforeEach, test } from "node:test";
import pino from "pino";
import { NO_FAULTS } from "../../src/simulator/server.ts";
import { call, finished, makeInstances, makePool, makeUser, requestVm } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const NO_VALID_HOST = "No valid host was found. There are not enough hosts available.";
const lines: Record<string, any>[] = [];
let s: Stack;

before(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  // Workers on: the build watcher is what notices builds in the background.
  s = await startStack({ reconcile: { buildWatchSeconds: 1 } }, { logger: pino({ level: "info" }, sink) });
});
beforeEach(() => {
  Object.assign(s.sim.ctx.faults, NO_FAULTS);
});
after(() => s?.stop());

const admin = (method: string, path: string) =>
  call(s.adminUrl, method, path, { headers: { "X-Auth-Token": s.adminToken } });
const failureLines = (id: string) =>
  lines.filter((l) => l.instance_id === id && /^build of instance .* failed/.test(l.msg ?? ""));

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

test("two failed builds in a pool without a reserve: logged once each, on the instances and on the pool", async () => {
  const pool = await makePool(s);
  s.sim.ctx.faults.errorBuilds = true;
  const ids = await makeInstances(s, pool.id, 2);
  s.sim.ctx.faults.errorBuilds = false;

  for (const id of ids) {
    const server = await until(`${id} ERROR in our records`, async () => {
      const r = await admin("GET", `/v1/servers/${id}`);
      return r.body.server.status === "ERROR" ? r.body.server : undefined;
    });
    assert.equal(server.fault, NO_VALID_HOST);
  }
  const project = (await admin("GET", `/v1/projects/${pool.id}`)).body.project;
  assert.equal(project.reserve.failed_builds, 2);
  assert.equal(project.reserve.last_failure, NO_VALID_HOST);
  assert.match(project.reserve.last_failure_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);

  // Seen again (a listing with Nova's objects copies the statuses again): still once.
  assert.equal((await admin("GET", `/v1/servers/?project_id=${pool.id}&with_os_object=true`)).status, 200);
  assert.equal((await admin("GET", `/v1/projects/${pool.id}`)).body.project.reserve.failed_builds, 2);
  for (const id of ids) {
    const logged = failureLines(id);
    assert.equal(logged.length, 1, `one log line for ${id}: ${JSON.stringify(logged)}`);
    assert.equal(logged[0]!.level, 40, "a warning");
    assert.equal(logged[0]!.fault, NO_VALID_HOST);
    assert.equal(logged[0]!.project_id, pool.id);
    assert.ok(logged[0]!.msg.includes(NO_VALID_HOST));
  }
});

test("a healthy instance has no fault and its pool no failure", async () => {
  const pool = await makePool(s);
  const [id] = await makeInstances(s, pool.id, 1);
  const server = await until("ACTIVE", async () => {
    const r = await admin("GET", `/v1/servers/${id}`);
    return r.body.server.status === "ACTIVE" ? r.body.server : undefined;
  });
  assert.equal(server.fault, null);
  const reserve = (await admin("GET", `/v1/projects/${pool.id}`)).body.project.reserve;
  assert.deepEqual([reserve.failed_builds, reserve.last_failure, reserve.last_failure_at], [0, null, null]);
});

test("a build that fails while an allocation waits for it is counted on the pool too", async () => {
  const pool = await makePool(s);
  const user = await makeUser(s, [pool.id]);
  s.sim.ctx.faults.errorBuilds = true;
  const { requestId, token } = await requestVm(s, user);
  const res = await finished(s, token, requestId);
  s.sim.ctx.faults.errorBuilds = false;
  assert.equal(res.body.error?.code, 17, JSON.stringify(res.body));
  const instanceId = res.body.error.data.instance_id;
  const reserve = (await admin("GET", `/v1/projects/${pool.id}`)).body.project.reserve;
  assert.equal(reserve.failed_builds, 1);
  assert.equal(reserve.last_failure, NO_VALID_HOST);
  assert.equal(failureLines(instanceId).length, 1);
});

test("a reserve whose builds fail: backoff, with the failed builds and Nova's fault on the pool", async () => {
  const pool = await makePool(s, { min_reserve_vm: 2 });
  s.sim.ctx.faults.errorBuilds = true;
  const reserve = await until("the reserve backs off", async () => {
    const r = (await admin("GET", `/v1/projects/${pool.id}`)).body.project.reserve;
    return r.state === "backoff" && r.failed_builds >= 2 ? r : undefined;
  });
  s.sim.ctx.faults.errorBuilds = false;
  assert.equal(reserve.last_failure, NO_VALID_HOST);
  assert.match(reserve.message, /No valid host/);
});
