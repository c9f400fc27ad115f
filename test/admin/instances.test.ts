// TRS instances through the admin API: batched creation from the pool's template, names,
// filters with modifiers, os_server, replacement of users and groups, deletion.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import {
  type api,
  assertAdminOnly,
  assertError,
  makeGroup,
  makePool,
  makeServers,
  makeUser,
  useAdminStack,
  waitActive,
} from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const nova = () => stack.runtime.deps.cloud.nova;
const novaCount = async (projectId: string) => (await nova().listServers({ projectId })).length;

describe("POST /v1/servers/", () => {
  test("creates count instances in one reservation from the pool's template, named by its pattern", async () => {
    const script = Buffer.from("#!/bin/sh\necho hello\n").toString("base64");
    const pool = await makePool(call, stack, { instance_init_script: script, availability_zone: "nova" });
    const res = await call("POST", "/v1/servers/", {
      body: { server: { project_id: pool, count: 3, description: "d" } },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ["reservation_id", "servers"]);
    assert.equal(res.body.servers.length, 3);
    const ids: string[] = res.body.servers.map((s: { id: string }) => s.id);

    const servers = await nova().listServers({ projectId: pool });
    assert.deepEqual(servers.map((s) => s.id).sort(), [...ids].sort());
    assert.deepEqual(servers.map((s) => s.name).sort(), ["trs-01", "trs-02", "trs-03"]);
    for (const s of servers) {
      assert.ok(s.tags.includes("trs"));
      assert.equal(s.raw["OS-EXT-SRV-ATTR:reservation_id"], res.body.reservation_id);
      assert.equal(s.raw["OS-EXT-SRV-ATTR:user_data"], script);
      assert.equal(s.projectId, pool);
    }
    const listed = await call("GET", `/v1/servers/?project_id=${pool}`);
    assert.deepEqual(listed.body.servers.map((s: { name: string }) => s.name).sort(), [
      "trs-01",
      "trs-02",
      "trs-03",
    ]);
    // Each server carries in Nova the very name we recorded for it.
    const ours = new Map(listed.body.servers.map((s: { id: string; name: string }) => [s.id, s.name]));
    for (const s of servers) assert.equal(ours.get(s.id), s.name);

    // The counter is the project's: the next batch goes on from it.
    const [next] = await makeServers(call, pool);
    assert.equal((await call("GET", `/v1/servers/${next}`)).body.server.name, "trs-04");
  });

  test("an explicit name with count > 1 gives name-1..name-N; a pattern without * gets -N", async () => {
    const pool = await makePool(call, stack, { instance_name_pattern: "desk" });
    await makeServers(call, pool, { name: "lab", count: 2 });
    await makeServers(call, pool);
    const names = (await call("GET", `/v1/servers/?project_id=${pool}`)).body.servers.map(
      (s: { name: string }) => s.name,
    );
    assert.deepEqual(names.sort(), ["desk-1", "lab-1", "lab-2"]);
    const ours = new Map(
      (await call("GET", `/v1/servers/?project_id=${pool}`)).body.servers.map(
        (s: { id: string; name: string }) => [s.id, s.name],
      ),
    );
    for (const s of await nova().listServers({ projectId: pool })) assert.equal(ours.get(s.id), s.name);
  });

  test("assigns the given users and groups to every new instance", async () => {
    const pool = await makePool(call, stack);
    const user = await makeUser(stack);
    const group = await makeGroup(stack);
    const ids = await makeServers(call, pool, { count: 2, users: [user.id], groups: [group.id] });
    for (const id of ids) {
      const s = (await call("GET", `/v1/servers/${id}`)).body.server;
      assert.deepEqual(s.users, [user.id]);
      assert.deepEqual(s.groups, [group.id]);
      assert.equal(s.assigned, true);
    }
  });

  test("takes the project from the token's scope when project_id is not given", async () => {
    const pool = await makePool(call, stack);
    // rs-server's service account (the simulator's admin) holds the admin role on every pool.
    const scoped = await stack.token({ ...stack.sim.admin, projectId: pool });
    const res = await call("POST", "/v1/servers/", { token: scoped, body: { server: { name: "scoped" } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await call("GET", `/v1/servers/${res.body.servers[0].id}`)).body.server.project_id, pool);
    // The usual admin token is scoped to the admin project, which is not a TRS project.
    assertError(await call("POST", "/v1/servers/", { body: { server: { name: "x" } } }), 400);
  });

  test("bad input is refused and creates nothing in Nova", async () => {
    const pool = await makePool(call, stack);
    const before = await novaCount(pool);
    const [a, b] = [await makeUser(stack), await makeUser(stack)];
    assertError(
      await call("POST", "/v1/servers/", { body: { server: { project_id: pool, users: ["nobody"] } } }),
      400,
    );
    assertError(
      await call("POST", "/v1/servers/", { body: { server: { project_id: pool, groups: ["nogroup"] } } }),
      400,
    );
    assertError(
      await call("POST", "/v1/servers/", { body: { server: { project_id: pool, name: "x".repeat(246) } } }),
      400,
    );
    assertError(
      await call("POST", "/v1/servers/", {
        body: { server: { project_id: pool, name: "x".repeat(244), count: 2 } },
      }),
      400,
    );
    assertError(
      await call("POST", "/v1/servers/", { body: { server: { project_id: pool, count: 0 } } }),
      400,
    );
    assertError(
      await call("POST", "/v1/servers/", { body: { server: { project_id: pool, count: "2" } } }),
      400,
    );
    assertError(
      await call("POST", "/v1/servers/", { body: { server: { project_id: pool, users: [a.id, b.id] } } }),
      409,
    );
    assertError(
      await call("POST", "/v1/servers/", { body: { server: { project_id: "no-such-project" } } }),
      404,
    );
    const demo = stack.sim.demo.projectId;
    assertError(await call("POST", "/v1/servers/", { body: { server: { project_id: demo } } }), 400);
    assert.equal(await novaCount(pool), before);
    assert.equal((await call("GET", `/v1/servers/?project_id=${pool}`)).body.servers.length, 0);
  });

  test("is admin-only", async () => {
    await assertAdminOnly(call, stack, "POST", "/v1/servers/", { server: { name: "x" } });
  });
});

describe("PUT /v1/servers/{id}", () => {
  test("replaces users and groups, keeping history of what ended", async () => {
    const pool = await makePool(call, stack, { operation_mode: "2" });
    const [id] = await makeServers(call, pool);
    const [a, b, c] = [await makeUser(stack), await makeUser(stack), await makeUser(stack)];
    const g = await makeGroup(stack);
    await call("POST", `/v1/servers/${id}/users/`, { body: { users: [a.id, b.id] } });
    const res = await call("PUT", `/v1/servers/${id}`, {
      body: { server: { users: [b.id, c.id], groups: [g.id] } },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.server.id, id);
    assert.equal(res.body.server.project_id, pool);
    assert.equal(res.body.server.assigned, true);
    assert.deepEqual([...res.body.server.users].sort(), [b.id, c.id].sort());
    assert.deepEqual(res.body.server.groups, [g.id]);
    const history = await stack.runtime.store.db
      .selectFrom("assignment_history")
      .select(["subject_id", "action", "actor"])
      .where("instance_id", "=", id)
      .where("subject_id", "=", a.id)
      .orderBy("id")
      .execute();
    assert.deepEqual(
      history.map((h) => [h.action, h.actor]),
      [
        ["assign", stack.sim.admin.userId],
        ["unassign", stack.sim.admin.userId],
      ],
    );
    const cleared = await call("PUT", `/v1/servers/${id}`, { body: { server: { users: [], groups: [] } } });
    assert.equal(cleared.body.server.assigned, false);
  });

  test("a Standard instance takes one user (409); unknown ids 400/404 and change nothing", async () => {
    const pool = await makePool(call, stack);
    const [id] = await makeServers(call, pool);
    const [a, b] = [await makeUser(stack), await makeUser(stack)];
    await call("PUT", `/v1/servers/${id}`, { body: { server: { users: [a.id] } } });
    assertError(await call("PUT", `/v1/servers/${id}`, { body: { server: { users: [a.id, b.id] } } }), 409);
    assertError(await call("PUT", `/v1/servers/${id}`, { body: { server: { users: ["ghost"] } } }), 400);
    assertError(await call("PUT", `/v1/servers/${id}`, { body: { server: { users: "a" } } }), 400);
    assert.deepEqual((await call("GET", `/v1/servers/${id}`)).body.server.users, [a.id]);
    assertError(await call("PUT", "/v1/servers/nope", { body: { server: { users: [] } } }), 404);
    await assertAdminOnly(call, stack, "PUT", `/v1/servers/${id}`, { server: { users: [] } });
  });
});

describe("GET /v1/servers/", () => {
  test("filters by project_id and assigned with modifiers, user and group", async () => {
    const p1 = await makePool(call, stack);
    const p2 = await makePool(call, stack);
    const [s1, s2] = await makeServers(call, p1, { count: 2 });
    const [s3] = await makeServers(call, p2);
    const user = await makeUser(stack);
    const group = await makeGroup(stack);
    await call("POST", `/v1/servers/${s1}/users/`, { body: { users: [user.id] } });
    await call("POST", `/v1/servers/${s3}/groups/`, { body: { groups: [group.id] } });
    const ids = async (q: string) => {
      const res = await call("GET", `/v1/servers/${q}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return (res.body.servers.map((s: { id: string }) => s.id) as string[]).sort();
    };
    const mine = [s1, s2, s3].sort();
    assert.deepEqual(await ids(`?project_id=${p1}`), [s1, s2].sort());
    assert.deepEqual(await ids(`?project_id__in=${p1},${p2}`), mine);
    assert.deepEqual(await ids(`?project_id__in=${p1}&project_id__in=${p2}&assigned=True`), [s1, s3].sort());
    assert.deepEqual(await ids(`?project_id__in=${p1},${p2}&assigned__noteq=true`), [s2]);
    assert.deepEqual(await ids(`?project_id__in=${p1},${p2}&assigned=0`), [s2]);
    assert.deepEqual(await ids(`?project_id__noteq=${p1}&project_id__in=${p1},${p2}`), [s3]);
    assert.deepEqual(
      await ids(`?project_id__startswith=${p2.slice(0, 8).toUpperCase()}&project_id__in=${p1},${p2}`),
      [s3],
    );
    assert.deepEqual(await ids(`?user=${user.id}`), [s1]);
    assert.deepEqual(await ids(`?group=${group.id}`), [s3]);
  });

  test("with_os_object adds Nova's server and the current status", async () => {
    const pool = await makePool(call, stack);
    const ids = await makeServers(call, pool, { count: 2 });
    await waitActive(stack, ids);
    const res = await call("GET", `/v1/servers/?project_id=${pool}&with_os_object=true`);
    assert.equal(res.status, 200);
    for (const s of res.body.servers) {
      assert.equal(s.os_server.id, s.id);
      assert.equal(s.os_server.status, "ACTIVE");
      assert.equal(s.status, "ACTIVE");
    }
    const one = await call("GET", `/v1/servers/${ids[0]}?with_os_object=1`);
    assert.equal(one.body.server.os_server.id, ids[0]);
    assert.ok(one.body.server.os_server.tags.includes("trs"));
    assert.equal("os_server" in (await call("GET", `/v1/servers/${ids[0]}`)).body.server, false);
  });

  test("unknown parameters and modifiers are 400, unknown ids 404", async () => {
    assertError(await call("GET", "/v1/servers/?colour=red"), 400);
    assertError(await call("GET", "/v1/servers/?project_id__near=x"), 400);
    assertError(await call("GET", "/v1/servers/?user__contains=x"), 400);
    assertError(await call("GET", "/v1/servers/?assigned=perhaps"), 400);
    assertError(await call("GET", "/v1/servers/?with_os_object=perhaps"), 400);
    assertError(await call("GET", "/v1/servers/no-such-server"), 404);
    assertError(await call("GET", "/v1/servers/?project_id=a%00b"), 400);
    assertError(await call("GET", "/v1/servers/a%00b"), 400);
    await assertAdminOnly(call, stack, "GET", "/v1/servers/");
    await assertAdminOnly(call, stack, "GET", "/v1/servers/x");
  });
});

describe("DELETE /v1/servers/{id} (extension)", () => {
  test("deletes in Nova, ends assignments with history and leaves the lists", async () => {
    const pool = await makePool(call, stack);
    const [id] = await makeServers(call, pool);
    const user = await makeUser(stack);
    await call("POST", `/v1/servers/${id}/users/`, { body: { users: [user.id] } });
    assert.equal((await call("DELETE", `/v1/servers/${id}`)).status, 204);
    assertError(await call("GET", `/v1/servers/${id}`), 404);
    assert.deepEqual((await call("GET", `/v1/servers/?project_id=${pool}`)).body.servers, []);
    assert.deepEqual((await call("GET", `/v1/users/${user.id}/servers/`)).body.servers, []);
    const history = await stack.runtime.store.db
      .selectFrom("assignment_history")
      .select(["action", "reason"])
      .where("instance_id", "=", id)
      .orderBy("id")
      .execute();
    assert.deepEqual(
      history.map((h) => h.action),
      ["assign", "unassign"],
    );
    // Nova deletes asynchronously: the server is gone or on its way out.
    const remaining = await nova().listServers({ projectId: pool });
    assert.ok(remaining.every((s) => s.id !== id || s.status === "DELETED" || s.taskState === "deleting"));
    assertError(await call("DELETE", `/v1/servers/${id}`), 404);
    await assertAdminOnly(call, stack, "DELETE", "/v1/servers/x");
  });
});
