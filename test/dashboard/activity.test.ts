// GET /v1/activity and /v1/activity/tasks, the dashboard's chart and task data: a broker
// allocation shows as one allocation and one opened session in its bucket (and only for its
// pool), its task carries the request's steps; bad input is a 400; admin role required.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, finished, makeInstances, makePool, makeUser, requestVm } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("dashboard activity", () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(async () => {
    await s?.stop();
  });
  const get = (path: string, token = s.adminToken) =>
    call(s.adminUrl, "GET", path, { headers: { "X-Auth-Token": token } });
  const sum = (body: any, key: string) => body.buckets.reduce((n: number, b: any) => n + b[key], 0);

  it("counts a broker allocation and its session, per pool, and shows the task's steps", async () => {
    const pool = await makePool(s);
    const other = await makePool(s);
    await makeInstances(s, pool.id, 1);
    const u = await makeUser(s, [pool.id]);
    const before = await get("/v1/activity?hours=1");
    const { requestId, token } = await requestVm(s, u);
    const done = await finished(s, token, requestId);
    assert.equal(done.body.status, "completed", JSON.stringify(done.body));

    const hour = await get("/v1/activity?hours=1");
    assert.equal(hour.status, 200);
    assert.equal(hour.body.step_seconds, 60);
    assert.ok(hour.body.buckets.length >= 60 && hour.body.buckets.length <= 61);
    assert.equal(sum(hour.body, "allocations"), sum(before.body, "allocations") + 1);
    assert.equal(sum(hour.body, "sessions_opened"), sum(before.body, "sessions_opened") + 1);
    assert.equal(hour.body.open_sessions, before.body.open_sessions + 1);
    const mine = await get(`/v1/activity?hours=24&pool_id=${pool.id}`);
    assert.equal(mine.body.open_sessions, 1);
    assert.deepEqual(Object.values(mine.body.open_by_instance), [1]);
    assert.equal(hour.body.open_by_instance, undefined);
    assert.equal(mine.body.step_seconds, 1800);
    assert.equal(sum(mine.body, "allocations"), 1);
    assert.equal(sum(mine.body, "failures"), 0);
    const theirs = await get(`/v1/activity?pool_id=${other.id}`);
    assert.equal(sum(theirs.body, "allocations"), 0);
    assert.equal(theirs.body.open_sessions, 0);

    const tasks = await get(`/v1/activity/tasks?pool_id=${pool.id}`);
    assert.equal(tasks.status, 200);
    assert.equal(tasks.body.tasks.length, 1);
    const [task] = tasks.body.tasks;
    assert.equal(task.status, "SUCCESS");
    assert.equal(task.pool_id, pool.id);
    assert.equal(task.request.id, requestId);
    assert.equal(task.request.status, "completed");
    assert.ok(task.request.steps.some((st: any) => st.name === "find_instance" && st.outcome === "ok"));
    assert.match(task.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    const none = await get(`/v1/activity/tasks?pool_id=${other.id}`);
    assert.deepEqual(none.body.tasks, []);
  });

  it("answers 400 for bad input, 401 without a token and 403 for a member", async () => {
    for (const q of ["hours=0", "hours=721", "hours=x", "limit=0", "limit=201", "other=1"]) {
      const path = q.startsWith("limit") ? `/v1/activity/tasks?${q}` : `/v1/activity?${q}`;
      const res = await get(path);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.code, 400);
    }
    assert.equal((await call(s.adminUrl, "GET", "/v1/activity")).status, 401);
    assert.equal((await get("/v1/activity", s.memberToken)).status, 403);
    assert.equal((await get("/v1/activity/tasks", s.memberToken)).status, 403);
  });
});
