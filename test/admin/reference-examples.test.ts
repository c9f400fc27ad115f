// Every curl example of the reference's RS server API, in its order, with the example ids
// replaced by real ones, run against the whole stack: each answer must have the status the
// reference implies and the shape of the reference's example JSON (every key of the example
// present, with the same JSON type). Inside os_project / os_server, which are OpenStack's own
// objects, only their being objects is checked.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import { type api, keystone, makeGroup, makeUser, useAdminStack, waitActive } from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const OPENSTACK_OBJECTS = new Set(["os_project", "os_server"]);

function kind(v: unknown) {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** Every key of `example` is in `actual` with the same JSON type (null matches anything). */
function assertShape(actual: unknown, example: unknown, path: string, nullable: string[]) {
  if (example === null || actual === null) {
    if (actual === null && example !== null && !nullable.includes(path)) {
      assert.fail(`${path}: null where the reference shows ${kind(example)}`);
    }
    return;
  }
  assert.equal(
    kind(actual),
    kind(example),
    `${path}: ${kind(actual)} where the reference shows ${kind(example)}`,
  );
  if (Array.isArray(example)) {
    const items = actual as unknown[];
    if (example.length > 0 && items.length > 0) {
      for (const item of items) assertShape(item, example[0], `${path}[]`, nullable);
    }
    return;
  }
  if (typeof example === "object") {
    for (const [key, value] of Object.entries(example as object)) {
      const where = `${path}.${key}`;
      assert.ok(key in (actual as object), `${where} is missing`);
      if (OPENSTACK_OBJECTS.has(key)) {
        assert.equal(kind((actual as Record<string, unknown>)[key]), "object", where);
        continue;
      }
      assertShape((actual as Record<string, unknown>)[key], value, where, nullable);
    }
  }
}

interface Example {
  method: string;
  path: string;
  body?: unknown;
  token?: string;
  status: number;
  example?: unknown;
  nullable?: string[];
}

async function run(e: Example) {
  const res = await call(e.method, e.path, { body: e.body, token: e.token });
  assert.equal(res.status, e.status, `${e.method} ${e.path}: ${JSON.stringify(res.body)}`);
  if (e.example !== undefined) assertShape(res.body, e.example, "$", e.nullable ?? []);
  return res.body;
}

test("every curl example of the reference answers with the shape of its example", async () => {
  const { seed } = stack.sim;
  const users = [await makeUser(stack), await makeUser(stack), await makeUser(stack)];
  const groups = [await makeGroup(stack), await makeGroup(stack)];

  await run({
    method: "GET",
    path: "/v1/info",
    status: 200,
    nullable: ["$.info.license"],
    example: {
      info: {
        license: {
          created_at: 1538141220,
          expire_at: 1545955200,
          module_package: "rs_server",
          name: "Laboratoria",
          product: "RSserver",
          surrogate_name: "RSserver",
          unique_id: "07-002-decf3c6c893561752802",
          verified: true,
        },
        version: "0.1.0",
      },
    },
  });

  // TRS projects
  const created = await run({
    method: "POST",
    path: "/v1/projects/",
    body: {
      project: {
        name: "test_proj",
        enabled: "True",
        description: "Test Project_2",
        parent_id: "default",
        domain_id: "default",
        flavor_id: seed.flavorId,
        image_id: seed.imageId,
        network_id: seed.networkId,
        operation_mode: "2",
        availability_zone: "nova",
      },
    },
    status: 200,
    example: { project: { id: "d394da7c4d0747bd879e0e865222b3d9" } },
  });
  const projectId: string = created.project.id;

  await run({
    method: "PUT",
    path: `/v1/projects/${projectId}`,
    body: {
      project: {
        name: "new name",
        enabled: "False",
        description: "Test Project_2",
        flavor_id: seed.flavorId,
        image_id: seed.imageId,
        network_id: seed.networkId,
        availability_zone: "nova",
        instance_init_script: "IyEvYmluL3NoCmVjaG8gJ0hlbGxvIGZyb20gdGhlIGRldiB0ZWFtISc=",
      },
    },
    status: 200,
    nullable: ["$.project.volume_size"],
    example: {
      project: {
        id: "d394da7c4d0747bd879e0e865222b3d9",
        image_id: "bdd277be-ebf3-4ff7-8c05-c6f20cbddd61",
        flavor_id: "25a8679f-582a-4f7c-b9c2-286a60bedb76",
        network_id: "39523179-37b5-4fd7-bf14-a1f7134a6b1f",
        availability_zone: "nova",
        operation_mode: "1",
        instance_init_script: "IyEvYmluL3NoCmVjaG8gJ0hlbGxvIGZyb20gdGhlIGRldiB0ZWFtISc=",
        user_volume_enabled: true,
        volume_size: 1,
        volume_type_id: null,
      },
    },
  });
  // The rest of the walk needs the project enabled (its users get tokens scoped to it).
  await call("PUT", `/v1/projects/${projectId}`, { body: { project: { enabled: true, volume_size: 1 } } });

  await run({
    method: "GET",
    path: "/v1/projects/",
    status: 200,
    example: {
      projects: [
        {
          id: "d394da7c4d0747bd879e0e865222b3d9",
          image_id: "d91232fa-14ad-4e41-980a-d82dc9ea3929",
          flavor_id: "0972fadc-6f8d-415a-b4cb-d4a0992b2370",
          network_id: "2506940c-22f9-4b81-a865-9aa6e7d7cba3",
          availability_zone: "nova",
          operation_mode: "1",
          user_volume_enabled: true,
          volume_size: 1,
          volume_type_id: null,
        },
      ],
    },
  });

  await run({
    method: "GET",
    path: `/v1/projects/${projectId}?with_os_object=true`,
    status: 200,
    example: {
      project: {
        availability_zone: "",
        flavor_id: "41f2e2b1-d806-4688-8814-d4bedd6aee20",
        id: "c445f25f8c7e48a99ee7985309ed6954",
        image_id: "1e56ddcc-4d8d-42a1-8650-8a496c498e8c",
        instance_init_script: null,
        network_id: "3bff4756-aed7-4603-8fec-cfbe83654f14",
        operation_mode: "1",
        user_volume_enabled: true,
        volume_size: 1,
        volume_type_id: null,
        os_project: { id: "c445f25f8c7e48a99ee7985309ed6954", tags: ["trs"] },
      },
    },
  });

  await run({
    method: "GET",
    path: "/v1/projects/actions/get-settings",
    status: 200,
    example: { project_settings: { instance_name_pattern: "trs-**", default_availability_zone: "nova" } },
  });

  await run({
    method: "GET",
    path: `/v1/projects/${projectId}/statistics`,
    status: 200,
    example: {
      statistics: {
        created_servers: 10,
        active_servers: 8,
        error_servers: 1,
        created_trs_servers: 10,
        active_trs_servers: 8,
        error_trs_servers: 1,
        free_trs_servers: 2,
        occupied_trs_servers: 8,
        simultaneous_trs_servers: 4,
      },
    },
  });

  await run({
    method: "POST",
    path: `/v1/projects/${projectId}/actions/auto-allocate-users`,
    status: 200,
    example: { task_id: "7c8fbc6c-468d-4afb-a292-e70a3d475edc" },
  });

  // TRS instances: the reference's body has no project; the token's scope names it.
  const scoped = await stack.token({ ...stack.sim.admin, projectId });
  const servers = await run({
    method: "POST",
    path: "/v1/servers/",
    token: scoped,
    body: { server: { name: "test_vm", count: 1, description: "Test TRS vm" } },
    status: 200,
    example: { servers: [{ id: "2506940c-22f9-4b81-a865-9aa6e7d7cba3" }], reservation_id: "r-vd4o1bvy" },
  });
  const serverId: string = servers.servers[0].id;
  const [server2] = (
    await call("POST", "/v1/servers/", { body: { server: { project_id: projectId, count: 1 } } })
  ).body.servers.map((s: { id: string }) => s.id);
  await waitActive(stack, [serverId, server2]);

  await run({
    method: "PUT",
    path: `/v1/servers/${serverId}`,
    body: { server: { users: [users[0].id, users[1].id], groups: [groups[0].id] } },
    status: 200,
    example: {
      server: {
        id: "2506940c-22f9-4b81-a865-9aa6e7d7cba3",
        project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f",
        assigned: true,
        users: ["d91232fa-14ad-4e41-980a-d82dc9ea3929", "0972fadc-6f8d-415a-b4cb-d4a0992b2370"],
        groups: ["d57e3c66-69bb-46d3-af75-28c41ed1076f"],
      },
    },
  });

  await run({
    method: "GET",
    path: "/v1/servers/",
    status: 200,
    example: {
      servers: [
        {
          id: "2506940c-22f9-4b81-a865-9aa6e7d7cba3",
          project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f",
          assigned: true,
          users: ["0972fadc-6f8d-415a-b4cb-d4a0992b2370"],
          groups: [],
        },
      ],
    },
  });

  await run({
    method: "GET",
    path: `/v1/servers/${serverId}?with_os_object=true`,
    status: 200,
    example: {
      server: {
        groups: ["4a2fa50aad544c81ae23dfb22a871755"],
        id: "7ad6183a-817e-47c7-b848-741fdfbecc40",
        project_id: "184e540c7dc74df9ba31df50e1c3daf5",
        assigned: true,
        os_server: { id: "7ad6183a-817e-47c7-b848-741fdfbecc40", status: "ACTIVE", tags: ["trs"] },
        users: ["47aa3ba7eb48459bac24c5929f49a3c3"],
      },
    },
  });

  // Users and groups of instances
  const pair = [users[2].id, users[1].id];
  await run({ method: "POST", path: `/v1/servers/${server2}/users/`, body: { users: pair }, status: 204 });
  await run({
    method: "POST",
    path: `/v1/servers/${server2}/groups/`,
    body: { groups: [groups[0].id, groups[1].id] },
    status: 204,
  });
  await run({
    method: "POST",
    path: `/v1/users/${users[0].id}/servers/`,
    body: { servers: [serverId, server2] },
    status: 204,
  });
  await run({
    method: "POST",
    path: `/v1/groups/${groups[1].id}/servers/`,
    body: { servers: [serverId, server2] },
    status: 204,
  });
  await run({
    method: "GET",
    path: `/v1/users/${users[0].id}/servers/`,
    status: 200,
    example: {
      servers: [
        {
          instance_id: "64946d43-6bec-4a34-898c-25b67426e3e4",
          project_id: "10145e7899324f03bef44502e316bf96",
          project_name: "fdd89303-1e16-4dfa-a48a-3d8de47f550a",
        },
      ],
    },
  });
  await run({
    method: "GET",
    path: `/v1/servers/${server2}/users/`,
    status: 200,
    example: { users: [{ id: "0972fadc-6f8d-415a-b4cb-d4a0992b2370" }] },
  });
  await run({
    method: "GET",
    path: `/v1/servers/${server2}/groups/`,
    status: 200,
    example: { groups: [{ id: "0972fadc-6f8d-415a-b4cb-d4a0992b2370" }] },
  });
  await run({ method: "DELETE", path: `/v1/servers/${server2}/users/${users[2].id}`, status: 204 });
  await run({ method: "DELETE", path: `/v1/servers/${server2}/groups/${groups[0].id}`, status: 204 });

  // Floating IP addresses
  const neutron = stack.runtime.deps.cloud.neutron;
  const fip = (await neutron.createFloatingIp({ floatingNetworkId: seed.externalNetworkId })).id;
  const fip2 = (await neutron.createFloatingIp({ floatingNetworkId: seed.externalNetworkId })).id;
  const userId = users[0].id;
  await run({
    method: "POST",
    path: `/v1/users/${userId}/floating-ip`,
    body: { floating_ip_id: fip },
    status: 204,
  });
  const entry = {
    id: "56d88dd0a3ab4c4c8d1d15534352d7de",
    floating_ip_id: "c3bdc5ba-cdff-49d0-b84c-ac9329ab1410",
  };
  await run({ method: "GET", path: "/v1/users/", status: 200, example: { users: [entry] } });
  await run({ method: "GET", path: `/v1/users/${userId}`, status: 200, example: { user: [entry] } });
  await run({
    method: "PUT",
    path: `/v1/users/${userId}/floating-ip`,
    body: { floating_ip_id: fip2 },
    status: 204,
  });

  // Sessions
  const session = {
    instance_id: "e3afefea-7dfe-4754-8607-fb3f45b0fe07",
    user_id: "56d88dd0a3ab4c4c8d1d15534352d7de",
    user_name: "admin",
    connection: "web",
    closed_at: null,
    client_ip: "192.168.0.2",
    client_os: "Ubuntu 16.04",
    client_info: "RSclient 0.1.0",
    created_at: "2018-10-31T12:59:43",
  };
  await run({
    method: "POST",
    path: "/v1/sessions/",
    body: { session: { instance_id: serverId, conn_type: "web" } },
    status: 200,
    nullable: ["$.session.client_ip", "$.session.client_os", "$.session.client_info"],
    example: { session },
  });
  await run({
    method: "GET",
    path: "/v1/sessions/",
    status: 200,
    nullable: ["$.sessions[].client_ip", "$.sessions[].client_os", "$.sessions[].client_info"],
    example: { sessions: [{ ...session, session_id: "11fa220f-9f88-406a-ba79-0acbba83c32b" }] },
  });
  await run({ method: "GET", path: "/v1/sessions/count", status: 200, example: { count: 5 } });

  // Volume assignments
  const volumeId = (await stack.runtime.deps.cloud.cinder.createVolume({ size: 1, projectId })).id;
  const va = {
    id: 5,
    project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f",
    user_id: "c72a1b62a8194426a0e4c40a4b4d77a0",
    volume_id: "c8327ff2-eb85-4495-ab68-df4aa36d7ae0",
  };
  const made = await run({
    method: "POST",
    path: "/v1/volume-assignments/",
    body: { user_id: userId, project_id: projectId, volume_id: volumeId },
    status: 200,
    example: { "volume-assignment": va },
  });
  await run({
    method: "GET",
    path: "/v1/volume-assignments/",
    status: 200,
    example: { "volume-assignments": [va] },
  });
  await run({
    method: "GET",
    path: `/v1/volume-assignments/${made["volume-assignment"].id}`,
    status: 200,
    example: { "volume-assignment": va },
  });

  // Celery tasks
  const tasks = await run({
    method: "GET",
    path: "/v1/tasks",
    status: 200,
    example: { tasks: ["3519adaf-7669-499e-88eb-8f05f64514e2"] },
  });
  await run({
    method: "GET",
    path: `/v1/tasks/${tasks.tasks[0]}`,
    status: 200,
    example: { status: "SUCCESS" },
  });

  // The ids were real: the walk left what it says it did.
  assert.equal((await keystone(stack).getProject(projectId)).name, "new name");
});

test("the OpenAPI document lists every admin endpoint with tags, summary, description and an example", async () => {
  const app = stack.runtime.admin;
  assert.ok(app);
  const doc = (await app.inject({ url: "/docs/json" })).json();
  const expected = [
    "post /v1/projects",
    "put /v1/projects/{project_id}",
    "get /v1/projects",
    "get /v1/projects/{project_id}",
    "delete /v1/projects/{project_id}",
    "get /v1/projects/actions/get-settings",
    "get /v1/projects/{project_id}/statistics",
    "post /v1/projects/{project_id}/actions/auto-allocate-users",
    "post /v1/servers",
    "put /v1/servers/{server_id}",
    "get /v1/servers",
    "get /v1/servers/{server_id}",
    "delete /v1/servers/{server_id}",
    "post /v1/servers/{server_id}/users",
    "post /v1/servers/{server_id}/groups",
    "post /v1/users/{user_id}/servers",
    "post /v1/groups/{group_id}/servers",
    "get /v1/users/{user_id}/servers",
    "get /v1/servers/{server_id}/users",
    "get /v1/servers/{server_id}/groups",
    "delete /v1/servers/{server_id}/users/{user_id}",
    "delete /v1/servers/{server_id}/groups/{group_id}",
    "get /v1/users",
    "get /v1/users/{user_id}",
    "post /v1/users/{user_id}/floating-ip",
    "put /v1/users/{user_id}/floating-ip",
    "delete /v1/users/{user_id}/floating-ip",
    "get /v1/sessions",
    "get /v1/sessions/count",
    "post /v1/sessions",
    "put /v1/sessions/{session_id}",
    "get /v1/volume-assignments",
    "get /v1/volume-assignments/{assignment_id}",
    "post /v1/volume-assignments",
    "delete /v1/volume-assignments/{assignment_id}",
  ];
  for (const route of expected) {
    const [method, path] = route.split(" ");
    const op = doc.paths[path]?.[method];
    assert.ok(op, `${route} is not in the OpenAPI document`);
    assert.ok(op.tags?.length > 0, `${route} has no tag`);
    assert.ok(op.summary, `${route} has no summary`);
    assert.ok(op.description, `${route} has no description`);
    assert.ok(JSON.stringify(op).includes('"example"') || method === "delete", `${route} has no example`);
  }
});
