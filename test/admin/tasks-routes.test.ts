import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { App } from "../../src/http/app.ts";
import type { Store } from "../../src/store/db.ts";
import { TaskEngine } from "../../src/tasks/engine.ts";
import { createTestStore } from "../helpers/db.ts";
import { silent, waitFor } from "../tasks/helpers.ts";
import { adminApp, assertAdminOnly, assertEnvelope } from "./admin-app.ts";

let store: Store;
let engine: TaskEngine;
let app: App;
const admin = { "x-auth-token": "admin-token" };

before(async () => {
  store = await createTestStore();
  engine = new TaskEngine({ store, logger: silent, workers: false });
  engine.register("auto_allocate_users", () => ({ allocated: 2, without_instance: ["u3"] }));
  engine.register("fails", () => {
    throw new Error("no free instance");
  });
  await engine.start();
  app = await adminApp({ tasks: engine });
});
after(async () => {
  await app.close();
  await engine.stop();
  await store.close();
});

const settled = (id: string) =>
  waitFor(`task ${id}`, async () => {
    const t = await engine.get(id);
    return t && t.status !== "STARTED" ? t : undefined;
  });

test("GET /v1/tasks lists task ids newest first", async () => {
  const first = await engine.enqueue("auto_allocate_users", {});
  const second = await engine.enqueue("auto_allocate_users", {});
  const res = await app.inject({ url: "/v1/tasks", headers: admin });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ["tasks"]);
  assert.deepEqual(body.tasks.slice(0, 2), [second, first]);
});

test("GET /v1/tasks/{id}: exactly status, name, traceback, result", async () => {
  const ok = await engine.runNow("auto_allocate_users", {});
  await settled(ok);
  const res = await app.inject({ url: `/v1/tasks/${ok}`, headers: admin });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {
    status: "SUCCESS",
    name: "auto_allocate_users",
    traceback: null,
    result: '{"allocated":2,"without_instance":["u3"]}',
  });

  const failed = await engine.runNow("fails", {});
  await settled(failed);
  const body = (await app.inject({ url: `/v1/tasks/${failed}/`, headers: admin })).json();
  assert.equal(body.status, "FAILURE");
  assert.equal(body.result, null);
  assert.match(body.traceback, /^Error: no free instance\n/);

  const pending = await engine.enqueue("auto_allocate_users", {});
  assert.equal((await app.inject({ url: `/v1/tasks/${pending}`, headers: admin })).json().status, "PENDING");
});

test("an unknown or malformed task id is a 404 in the envelope", async () => {
  for (const id of ["7c8fbc6c-468d-4afb-a292-e70a3d475edc", "not-a-uuid", "1%27%20OR%201=1"]) {
    assertEnvelope(await app.inject({ url: `/v1/tasks/${id}`, headers: admin }), 404, "Not Found");
  }
});

test("tasks routes require the admin role", async () => {
  const id = await engine.enqueue("auto_allocate_users", {});
  await assertAdminOnly(app, "/v1/tasks");
  await assertAdminOnly(app, `/v1/tasks/${id}`);
});

test("the OpenAPI document describes the tasks routes", async () => {
  await app.ready();
  const doc = app.swagger() as any;
  const op = doc.paths["/v1/tasks/{task_id}"].get;
  assert.deepEqual(op.tags, ["tasks"]);
  assert.ok(op.responses["200"] && op.responses["404"] && op.responses["403"]);
});
