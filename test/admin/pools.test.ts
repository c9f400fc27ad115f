// TRS projects (pools) through the admin API on the simulator and a real PostgreSQL.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KeystoneDirectory } from "../../src/cloud/keystone-directory.ts";
import type { Stack } from "../helpers/stack.ts";
import {
  type api,
  assertAdminOnly,
  assertError,
  grantMember,
  keystone,
  makeGroup,
  makePool,
  makeServers,
  makeUser,
  unique,
  useAdminStack,
  waitActive,
} from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const template = () => ({
  flavor_id: stack.sim.seed.flavorId,
  image_id: stack.sim.seed.imageId,
  network_id: stack.sim.seed.networkId,
});

describe("POST /v1/projects/", () => {
  test("creates a Keystone project tagged trs with the configured defaults", async () => {
    const name = unique("pool");
    const res = await call("POST", "/v1/projects/", {
      body: { project: { name, enabled: "True", description: "desc", tags: ["extra"], ...template() } },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body), ["project"]);
    const id = res.body.project.id;
    const project = await keystone(stack).getProject(id);
    assert.equal(project.name, name);
    assert.equal(project.domainId, "default");
    assert.deepEqual([...project.tags].sort(), ["extra", "trs"]);
    assert.equal(project.description, "desc");

    const shown = await call("GET", `/v1/projects/${id}`);
    assert.equal(shown.body.project.operation_mode, "1");
    assert.equal(shown.body.project.availability_zone, "nova");
    assert.equal(shown.body.project.instance_name_pattern, "trs-**");
    assert.equal(shown.body.project.min_reserve_vm, 0);
    assert.equal(shown.body.project.user_volume_enabled, false);
  });

  test("gives rs-server's service account a role on the new project", async () => {
    const id = await makePool(call, stack);
    const rows = await keystone(stack).listRoleAssignments({ projectId: id, userId: stack.sim.admin.userId });
    const admin = await keystone(stack).findRole(stack.runtime.config.openstack.serviceRole);
    assert.ok(admin, "the configured service role exists");
    assert.ok(
      rows.some((r) => r.roleId === admin.id),
      JSON.stringify(rows),
    );
  });

  test("the service role is configurable (openstack.serviceRole): the directory grants that role", async () => {
    const { cloud } = stack.runtime.deps;
    const directory = new KeystoneDirectory(cloud.keystone, cloud.session, "member");
    const project = await directory.createProject({ name: unique("svc"), tags: ["test"] });
    try {
      await directory.grantServiceAccess(project.id);
      const member = await keystone(stack).findRole("member");
      const rows = await keystone(stack).listRoleAssignments({
        projectId: project.id,
        userId: stack.sim.admin.userId,
      });
      assert.deepEqual(
        rows.map((r) => r.roleId),
        [member!.id],
      );
    } finally {
      await directory.deleteProject(project.id);
    }
  });

  test("accepts the reference's string booleans and stores the pool settings", async () => {
    const script = Buffer.from("#!/bin/sh\necho hi\n").toString("base64");
    const id = await makePool(call, stack, {
      enabled: "False",
      operation_mode: "2",
      availability_zone: "az-1",
      instance_init_script: script,
      min_reserve_vm: 2,
      instance_name_pattern: "desk-***",
      user_volume_enabled: "1",
      volume_size: 3,
      max_users_per_instance: 4,
    });
    const p = (await call("GET", `/v1/projects/${id}`)).body.project;
    assert.equal(p.operation_mode, "2");
    assert.equal(p.availability_zone, "az-1");
    assert.equal(p.instance_init_script, script);
    assert.equal(p.min_reserve_vm, 2);
    assert.equal(p.instance_name_pattern, "desk-***");
    assert.equal(p.user_volume_enabled, true);
    assert.equal(p.volume_size, 3);
    assert.equal(p.max_users_per_instance, 4);
    assert.equal((await keystone(stack).getProject(id)).enabled, false);
  });

  test("refuses bad input with 400 and creates nothing", async () => {
    const bad: [string, Record<string, unknown>][] = [
      ["unknown flavor", { ...template(), flavor_id: "no-such-flavor" }],
      ["unknown image", { ...template(), image_id: "no-such-image" }],
      ["unknown network", { ...template(), network_id: "no-such-network" }],
      ["non-base64 script", { ...template(), instance_init_script: "not base64!" }],
      ["missing flavor", { image_id: stack.sim.seed.imageId }],
      ["wrong type", { ...template(), min_reserve_vm: "two" }],
      ["unknown mode", { ...template(), operation_mode: "3" }],
      ["bad boolean", { ...template(), enabled: "maybe" }],
      ["pattern too long", { ...template(), instance_name_pattern: "x".repeat(245) }],
      ["unknown parent", { ...template(), parent_id: "no-such-parent" }],
      ["huge volume", { ...template(), volume_size: 2 ** 40 }],
      ["NUL in a field", { ...template(), description: "a\u0000b" }],
    ];
    const before = (await call("GET", "/v1/projects/")).body.projects.length;
    for (const [why, fields] of bad) {
      const name = unique("bad");
      const res = await call("POST", "/v1/projects/", { body: { project: { name, ...fields } } });
      assertError(res, 400);
      assert.equal(await keystone(stack).findProject(name, "default"), undefined, why);
    }
    assert.equal((await call("GET", "/v1/projects/")).body.projects.length, before);
  });

  test("a duplicate name in the domain is a 409", async () => {
    const name = unique("dup");
    await makePool(call, stack, { name });
    assertError(await call("POST", "/v1/projects/", { body: { project: { name, ...template() } } }), 409);
  });

  test("is admin-only", async () => {
    await assertAdminOnly(call, stack, "POST", "/v1/projects/", { project: { name: "x", ...template() } });
  });
});

describe("PUT /v1/projects/{id}", () => {
  test("sends Keystone fields to Keystone and stores pool fields", async () => {
    const id = await makePool(call, stack);
    const name = unique("renamed");
    const script = "IyEvYmluL3NoCmVjaG8gJ0hlbGxvIGZyb20gdGhlIGRldiB0ZWFtISc=";
    const res = await call("PUT", `/v1/projects/${id}`, {
      body: {
        project: {
          name,
          enabled: "False",
          description: "new",
          instance_init_script: script,
          min_reserve_vm: 1,
        },
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.project.id, id);
    assert.equal(res.body.project.instance_init_script, script);
    assert.equal(res.body.project.min_reserve_vm, 1);
    const project = await keystone(stack).getProject(id);
    assert.equal(project.name, name);
    assert.equal(project.enabled, false);
    assert.ok(project.tags.includes("trs"));
  });

  test("bad input is a 400 and changes nothing", async () => {
    const id = await makePool(call, stack);
    const before = (await call("GET", `/v1/projects/${id}`)).body.project;
    assertError(
      await call("PUT", `/v1/projects/${id}`, { body: { project: { instance_init_script: "%%%" } } }),
      400,
    );
    assertError(
      await call("PUT", `/v1/projects/${id}`, { body: { project: { flavor_id: "nope", name: "x" } } }),
      400,
    );
    assertError(await call("PUT", `/v1/projects/${id}`, { body: { project: { volume_size: "big" } } }), 400);
    assert.deepEqual((await call("GET", `/v1/projects/${id}`)).body.project, before);
    assert.equal((await keystone(stack).getProject(id)).name, before.name);
  });

  test("switching 2 to 1 is refused while an instance has two users, then allowed", async () => {
    const id = await makePool(call, stack, { operation_mode: "2" });
    const [server] = await makeServers(call, id);
    const a = await makeUser(stack);
    const b = await makeUser(stack);
    assert.equal(
      (await call("POST", `/v1/servers/${server}/users/`, { body: { users: [a.id, b.id] } })).status,
      204,
    );
    assertError(await call("PUT", `/v1/projects/${id}`, { body: { project: { operation_mode: "1" } } }), 409);
    assert.equal((await call("GET", `/v1/projects/${id}`)).body.project.operation_mode, "2");

    assert.equal((await call("DELETE", `/v1/servers/${server}/users/${b.id}`)).status, 204);
    const switched = await call("PUT", `/v1/projects/${id}`, { body: { project: { operation_mode: "1" } } });
    assert.equal(switched.status, 200);
    assert.equal(switched.body.project.operation_mode, "1");
    const rows = await stack.runtime.store.db
      .selectFrom("instance_users")
      .selectAll()
      .where("instance_id", "=", server)
      .execute();
    assert.deepEqual(
      rows.map((r) => r.exclusive),
      [true],
    );
    // Now Standard: a second user is refused.
    assertError(await call("POST", `/v1/servers/${server}/users/`, { body: { users: [b.id] } }), 409);
  });

  test("unknown project is a 404; admin-only", async () => {
    assertError(await call("PUT", "/v1/projects/nope", { body: { project: { min_reserve_vm: 1 } } }), 404);
    await assertAdminOnly(call, stack, "PUT", "/v1/projects/nope", { project: {} });
  });
});

describe("GET /v1/projects/ and /v1/projects/{id}", () => {
  test("filters by name, enabled, domain, user and operation_mode", async () => {
    const name = unique("listed");
    const id = await makePool(call, stack, { name, operation_mode: "2" });
    const disabled = await makePool(call, stack, { enabled: false });
    const ids = async (query: string) =>
      (await call("GET", `/v1/projects/${query}`)).body.projects.map((p: { id: string }) => p.id) as string[];

    assert.deepEqual(await ids(`?name=${name}`), [id]);
    assert.ok((await ids("?operation_mode=2")).includes(id));
    assert.ok(!(await ids("?operation_mode=1")).includes(id));
    assert.ok((await ids("?enabled=False")).includes(disabled));
    assert.ok(!(await ids("?enabled=true")).includes(disabled));
    assert.ok((await ids("?domain=Default")).includes(id));
    assert.deepEqual(await ids("?domain=no-such-domain"), []);

    const user = await makeUser(stack);
    const group = await makeGroup(stack);
    await keystone(stack).addUserToGroup(group.id, user.id);
    assert.deepEqual(await ids(`?user=${user.id}`), []);
    await grantMember(stack, id, { groupId: group.id });
    assert.deepEqual(await ids(`?user=${user.id}`), [id]);
  });

  test("with_os_object adds the Keystone project", async () => {
    const id = await makePool(call, stack);
    const shown = await call("GET", `/v1/projects/${id}?with_os_object=true`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.project.os_project.id, id);
    assert.ok(shown.body.project.os_project.tags.includes("trs"));
    assert.equal(shown.body.project.os_project.domain_id, "default");
    const plain = await call("GET", `/v1/projects/${id}`);
    assert.equal("os_project" in plain.body.project, false);
    const listed = await call("GET", "/v1/projects/?with_os_object=1");
    const mine = listed.body.projects.find((p: { id: string }) => p.id === id);
    assert.equal(mine.os_project.id, id);
  });

  test("unknown parameters, modifiers and booleans are 400; unknown ids 404", async () => {
    assertError(await call("GET", "/v1/projects/?colour=red"), 400);
    assertError(await call("GET", "/v1/projects/?name__contains=x"), 400);
    assertError(await call("GET", "/v1/projects/?enabled=maybe"), 400);
    assertError(await call("GET", "/v1/projects/no-such-project"), 404);
    await assertAdminOnly(call, stack, "GET", "/v1/projects/");
    await assertAdminOnly(call, stack, "GET", "/v1/projects/x");
  });
});

test("GET /v1/projects/actions/get-settings answers the configured defaults", async () => {
  const res = await call("GET", "/v1/projects/actions/get-settings");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    project_settings: { instance_name_pattern: "trs-**", default_availability_zone: "nova" },
  });
  await assertAdminOnly(call, stack, "GET", "/v1/projects/actions/get-settings");
});

test("statistics count Nova's servers and our TRS instances as spec §4 says", async () => {
  const id = await makePool(call, stack, { operation_mode: "2" });
  const servers = await makeServers(call, id, { count: 3 });
  // A server of the project that rs-server did not create: counted only in *_servers.
  await stack.runtime.deps.cloud.nova.createServers({
    projectId: id,
    name: "foreign",
    flavorId: stack.sim.seed.flavorId,
    imageId: stack.sim.seed.imageId,
    networkIds: [stack.sim.seed.networkId],
  });
  const [a, b] = [await makeUser(stack), await makeUser(stack)];
  await call("POST", `/v1/servers/${servers[0]}/users/`, { body: { users: [a.id, b.id] } });
  await call("POST", `/v1/servers/${servers[1]}/users/`, { body: { users: [a.id] } });
  await waitActive(stack, servers);
  const res = await call("GET", `/v1/projects/${id}/statistics`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.statistics, {
    created_servers: 4,
    active_servers: res.body.statistics.active_servers,
    error_servers: 0,
    created_trs_servers: 3,
    active_trs_servers: 3,
    error_trs_servers: 0,
    free_trs_servers: 1,
    occupied_trs_servers: 2,
    simultaneous_trs_servers: 1,
  });
  assert.ok(res.body.statistics.active_servers >= 3);
  assertError(await call("GET", "/v1/projects/nope/statistics"), 404);
  await assertAdminOnly(call, stack, "GET", `/v1/projects/${id}/statistics`);
});

describe("DELETE /v1/projects/{id} (extension)", () => {
  test("is refused while the project has instances, unless forced", async () => {
    const id = await makePool(call, stack);
    const [server] = await makeServers(call, id);
    const user = await makeUser(stack);
    await call("POST", `/v1/servers/${server}/users/`, { body: { users: [user.id] } });
    assertError(await call("DELETE", `/v1/projects/${id}`), 409);
    assert.equal((await call("GET", `/v1/projects/${id}`)).status, 200);

    assert.equal((await call("DELETE", `/v1/projects/${id}?force=true`)).status, 204);
    assertError(await call("GET", `/v1/projects/${id}`), 404);
    assertError(await call("GET", `/v1/servers/${server}`), 404);
    await assert.rejects(keystone(stack).getProject(id));
    const history = await stack.runtime.store.db
      .selectFrom("assignment_history")
      .selectAll()
      .where("instance_id", "=", server)
      .orderBy("id")
      .execute();
    assert.deepEqual(
      history.map((h) => h.action),
      ["assign", "unassign"],
    );
  });

  test("an empty project is deleted; unknown is 404; admin-only", async () => {
    const id = await makePool(call, stack);
    assert.equal((await call("DELETE", `/v1/projects/${id}`)).status, 204);
    assertError(await call("DELETE", `/v1/projects/${id}`), 404);
    await assertAdminOnly(call, stack, "DELETE", "/v1/projects/x");
  });
});
