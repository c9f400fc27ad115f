// Every curl example of the reference (test/e2e/fixtures/reference-curl.txt, copied verbatim
// from the reference), replayed over HTTP against the running stack as curl sends it: its
// method, every header it gives (X-Auth-Token, Content-Type even without a body, Authorization:
// Bearer) plus curl's own, and its body, with only the example ids and shell variables
// replaced by real ones. Each answer must have the status the reference implies and the shape
// of the reference's example JSON (every key of the example present, with the same JSON type).
// Inside os_project / os_server, which are OpenStack's own objects, only their being objects
// is checked. The walk must use every line of the fixture.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type api, keystone, makeGroup, makeUser, useAdminStack, waitActive } from "../admin/api.ts";
import { makeInstances, makePool } from "../helpers/broker-stack.ts";
import { curlRequest } from "../helpers/curl.ts";
import type { Stack } from "../helpers/stack.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const FIXTURE = new URL("./fixtures/reference-curl.txt", import.meta.url);
const LINES = readFileSync(FIXTURE, "utf8")
  .split("\n")
  .filter((l) => l.startsWith("curl "));
const used = new Set<number>();

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
  /** Which line of the fixture: its method and URL path, `*` standing for one path segment. */
  route: string;
  /** Example ids (and other literal values) of that line and the real ones they stand for. */
  ids?: Record<string, string>;
  /** Shell variables of the line other than $token (the admin's token unless given). */
  vars?: Record<string, string>;
  status: number;
  example?: unknown;
  nullable?: string[];
}

function routeRegex(route: string) {
  const [method, path] = route.split(" ");
  const segments = path!.replace(/[.?]/g, "\\$&").replace(/\*/g, "[^/?]+");
  return new RegExp(`^${method} https?://controller:\\d+${segments}(\\?.*)?$`);
}

/** The fixture's next unused line for `route`, as curl would send it with the given values. */
function take(e: Pick<Example, "route" | "ids" | "vars">) {
  const vars = { token: stack.adminToken, ...e.vars };
  const pattern = routeRegex(e.route);
  const index = LINES.findIndex((line, i) => {
    if (used.has(i)) return false;
    const r = curlRequest(line, new Proxy({}, { get: (_t, name) => `$${String(name)}` }));
    return pattern.test(`${r.method} ${r.url}`);
  });
  assert.ok(index >= 0, `no unused curl example in the fixture for ${e.route}`);
  used.add(index);
  let line = LINES[index]!;
  for (const [example, real] of Object.entries(e.ids ?? {})) {
    assert.ok(line.includes(example), `${example} is not in: ${line}`);
    line = line.replaceAll(example, real);
  }
  const req = curlRequest(line, vars);
  const base = req.url.includes("controller:9365") ? stack.brokerUrl : stack.adminUrl;
  req.url = req.url.replace(/^http:\/\/controller:\d+/, base);
  return req;
}

async function send(req: ReturnType<typeof take>) {
  const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function run(e: Example) {
  const req = take(e);
  const res = await send(req);
  assert.equal(res.status, e.status, `${req.method} ${req.url}: ${JSON.stringify(res.body)}`);
  if (e.example !== undefined) assertShape(res.body, e.example, "$", e.nullable ?? []);
  return res.body;
}

test("every curl example of the reference answers with the shape of its example", async () => {
  const { seed } = stack.sim;
  const users = [await makeUser(stack), await makeUser(stack), await makeUser(stack)];
  const groups = [await makeGroup(stack), await makeGroup(stack)];
  // The reference's example ids, by what they stand for in its examples.
  const REF = {
    domain: "37e51ab4c5134e5198788d1f6afe5b8b",
    flavor: "25a8679f-582a-4f7c-b9c2-286a60bedb76",
    image: "bdd277be-ebf3-4ff7-8c05-c6f20cbddd61",
    network: "39523179-37b5-4fd7-bf14-a1f7134a6b1f",
    a: "d91232fa-14ad-4e41-980a-d82dc9ea3929",
    b: "0972fadc-6f8d-415a-b4cb-d4a0992b2370",
    c: "2506940c-22f9-4b81-a865-9aa6e7d7cba3",
    d: "d57e3c66-69bb-46d3-af75-28c41ed1076f",
    e: "246bc0c0-6f82-4343-8d9e-9c1ef706a3d0",
    f: "747488c2-5aa6-4d92-a982-e0319bee70e1",
    fip: "c3bdc5ba-cdff-49d0-b84c-ac9329ab1410",
  };

  await run({
    route: "GET /v1/info",
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

  // TRS projects: the reference's parent and domain are a domain id (here: Default).
  const created = await run({
    route: "POST /v1/projects/",
    ids: {
      [REF.domain]: "default",
      [REF.flavor]: seed.flavorId,
      [REF.image]: seed.imageId,
      [REF.network]: seed.networkId,
    },
    status: 200,
    example: { project: { id: "d394da7c4d0747bd879e0e865222b3d9" } },
  });
  const projectId: string = created.project.id;

  await run({
    route: "PUT /v1/projects/*",
    ids: {
      "5f62c4da73f34e869d9a3e8ab79b147a": projectId,
      [REF.flavor]: seed.flavorId,
      [REF.image]: seed.imageId,
      [REF.network]: seed.networkId,
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
    route: "GET /v1/projects/",
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
    route: "GET /v1/projects/*?with_os_object=true",
    vars: { project_id: projectId },
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
    route: "GET /v1/projects/actions/get-settings",
    status: 200,
    example: { project_settings: { instance_name_pattern: "trs-**", default_availability_zone: "nova" } },
  });

  await run({
    route: "GET /v1/projects/*/statistics",
    vars: { project_id: projectId },
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
    route: "POST /v1/projects/*/actions/auto-allocate-users",
    ids: { db172307fd47470ca0cf254427d22f14: projectId },
    status: 200,
    example: { task_id: "7c8fbc6c-468d-4afb-a292-e70a3d475edc" },
  });

  // TRS instances: the reference's body has no project; the token's scope names it.
  const scoped = await stack.token({ ...stack.sim.admin, projectId });
  const servers = await run({
    route: "POST /v1/servers/",
    vars: { token: scoped },
    status: 200,
    example: { servers: [{ id: "2506940c-22f9-4b81-a865-9aa6e7d7cba3" }], reservation_id: "r-vd4o1bvy" },
  });
  const serverId: string = servers.servers[0].id;
  const [server2] = (
    await call("POST", "/v1/servers/", { body: { server: { project_id: projectId, count: 1 } } })
  ).body.servers.map((s: { id: string }) => s.id);
  await waitActive(stack, [serverId, server2]);

  await run({
    route: "PUT /v1/servers/*",
    ids: {
      "254ba49f-584b-419d-9e86-afe9aa8a122e": serverId,
      [REF.a]: users[0].id,
      [REF.b]: users[1].id,
      [REF.d]: groups[0].id,
    },
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
    route: "GET /v1/servers/",
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
    route: "GET /v1/servers/*?with_os_object=true",
    vars: { server_id: serverId },
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
  await run({
    route: "POST /v1/servers/*/users/",
    ids: { [REF.e]: server2, [REF.a]: users[2].id, [REF.c]: users[1].id },
    status: 204,
  });
  await run({
    route: "POST /v1/servers/*/groups/",
    ids: { [REF.e]: server2, [REF.a]: groups[0].id, [REF.c]: groups[1].id },
    status: 204,
  });
  await run({
    route: "POST /v1/users/*/servers/",
    ids: { [REF.e]: users[0].id, [REF.a]: serverId, [REF.c]: server2 },
    status: 204,
  });
  await run({
    route: "POST /v1/groups/*/servers/",
    ids: { [REF.e]: groups[1].id, [REF.a]: serverId, [REF.c]: server2 },
    status: 204,
  });
  await run({
    route: "GET /v1/users/*/servers/",
    ids: { bd4a97119113445e8d3ce323051b945d: users[0].id },
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
    route: "GET /v1/servers/*/users/",
    ids: { [REF.c]: server2 },
    status: 200,
    example: { users: [{ id: "0972fadc-6f8d-415a-b4cb-d4a0992b2370" }] },
  });
  await run({
    route: "GET /v1/servers/*/groups/",
    ids: { [REF.c]: server2 },
    status: 200,
    example: { groups: [{ id: "0972fadc-6f8d-415a-b4cb-d4a0992b2370" }] },
  });
  // Both with Content-Type: application/json and no body, as the reference sends them.
  await run({
    route: "DELETE /v1/servers/*/users/*",
    ids: { [REF.b]: server2, [REF.f]: users[2].id },
    status: 204,
  });
  await run({
    route: "DELETE /v1/servers/*/groups/*",
    ids: { [REF.b]: server2, [REF.f]: groups[0].id },
    status: 204,
  });
  assert.deepEqual(
    (await call("GET", `/v1/servers/${server2}/users/`)).body.users
      .map((u: { id: string }) => u.id)
      .includes(users[2].id),
    false,
  );

  // Floating IP addresses
  const neutron = stack.runtime.deps.cloud.neutron;
  const fip = (await neutron.createFloatingIp({ floatingNetworkId: seed.externalNetworkId })).id;
  const fip2 = (await neutron.createFloatingIp({ floatingNetworkId: seed.externalNetworkId })).id;
  const userId = users[0].id;
  await run({
    route: "POST /v1/users/*/floating-ip",
    vars: { user_id: userId },
    ids: { [REF.fip]: fip },
    status: 204,
  });
  const entry = {
    id: "56d88dd0a3ab4c4c8d1d15534352d7de",
    floating_ip_id: "c3bdc5ba-cdff-49d0-b84c-ac9329ab1410",
  };
  await run({ route: "GET /v1/users/", status: 200, example: { users: [entry] } });
  await run({ route: "GET /v1/users/*", vars: { user_id: userId }, status: 200, example: { user: [entry] } });
  await run({
    route: "PUT /v1/users/*/floating-ip",
    vars: { user_id: userId },
    ids: { [REF.fip]: fip2 },
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
    route: "POST /v1/sessions/",
    ids: { "8735df50-6e08-462e-b091-1552f8588fd4": serverId },
    status: 200,
    nullable: ["$.session.client_ip", "$.session.client_os", "$.session.client_info"],
    example: { session },
  });
  await run({
    route: "GET /v1/sessions/",
    status: 200,
    nullable: ["$.sessions[].client_ip", "$.sessions[].client_os", "$.sessions[].client_info"],
    example: { sessions: [{ ...session, session_id: "11fa220f-9f88-406a-ba79-0acbba83c32b" }] },
  });
  await run({ route: "GET /v1/sessions/count", status: 200, example: { count: 5 } });

  // Volume assignments
  const volumeId = (await stack.runtime.deps.cloud.cinder.createVolume({ size: 1, projectId })).id;
  const va = {
    id: 5,
    project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f",
    user_id: "c72a1b62a8194426a0e4c40a4b4d77a0",
    volume_id: "c8327ff2-eb85-4495-ab68-df4aa36d7ae0",
  };
  const made = await run({
    route: "POST /v1/volume-assignments/",
    ids: {
      c72a1b62a8194426a0e4c40a4b4d77a0: userId,
      "3005d0d44cf84c7cbcb1ad1be83fba8f": projectId,
      "c8327ff2-eb85-4495-ab68-df4aa36d7ae0": volumeId,
    },
    status: 200,
    example: { "volume-assignment": va },
  });
  await run({ route: "GET /v1/volume-assignments/", status: 200, example: { "volume-assignments": [va] } });
  await run({
    route: "GET /v1/volume-assignments/*",
    ids: { "volume-assignments/5": `volume-assignments/${made["volume-assignment"].id}` },
    status: 200,
    example: { "volume-assignment": va },
  });

  // Celery tasks
  const tasks = await run({
    route: "GET /v1/tasks",
    status: 200,
    example: { tasks: ["3519adaf-7669-499e-88eb-8f05f64514e2"] },
  });
  await run({
    route: "GET /v1/tasks/*",
    vars: { task_id: tasks.tasks[0] },
    status: 200,
    example: { status: "SUCCESS" },
  });

  // The broker: the reference's user "trs" with its password, given access to a pool with a
  // desktop through the admin API (no openstack role add).
  const pool = await makePool(stack);
  await makeInstances(stack, pool.id, 1);
  const trs = await keystone(stack).createUser({ name: "trs", domainId: "default", password: "rR0666&4" });
  assert.equal((await call("PUT", `/v1/projects/${pool.id}/access/users/${trs.id}`)).status, 204);
  const requested = take({ route: "POST /v1/request-vm/" });
  const accepted = await send(requested);
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  assertShape(accepted.body, { request_id: "fe8775d4-1ac0-4224-9fec-93151e0bfc43" }, "$", []);
  const userToken = accepted.headers.get("x-auth-token");
  assert.ok(userToken, "request-vm answers X-Auth-Token");

  const getVm = take({
    route: "POST /v1/get-vm/",
    vars: { token: userToken },
    ids: { "req-48a56205-f4b5-4c05-8c64-30342a7e1cee": accepted.body.request_id },
  });
  let vm = await send(getVm);
  for (let i = 0; i < 600 && vm.status === 200 && vm.body.status !== "completed"; i++) {
    await new Promise((r) => setTimeout(r, 50));
    vm = await send(getVm);
  }
  assert.equal(vm.status, 200, JSON.stringify(vm.body));
  assertShape(
    vm.body,
    {
      status: "completed",
      message: null,
      server: {
        status: "ACTIVE",
        vm_state: "active",
        ip: "192.168.1.13",
        progress: 0,
        task_state: null,
        id: "c14d27cd-799e-4317-a430-af7c877703cf",
      },
    },
    "$",
    [],
  );

  const projects = await send(take({ route: "POST /v1/get-projects/", vars: { token: userToken } }));
  assert.equal(projects.status, 200, JSON.stringify(projects.body));
  assert.deepEqual(projects.body.projects, [pool.name]);

  // change-password: the reference's "demo" in the default domain with password 123456.
  const demo = await keystone(stack).createUser({
    name: "demo",
    domainId: "default",
    password: "123456",
  });
  const demoToken = await stack.token({ username: "demo", password: "123456", userDomainName: "Default" });
  const changed = await send(take({ route: "POST /v1/change-password/", vars: { token: demoToken } }));
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assertShape(changed.body, { message: "Password successfully changed for user 'admin'" }, "$", []);
  await stack.token({ username: "demo", password: "Qdr4H2d5bn01", userDomainName: "Default" });
  assert.ok(demo.id);

  // The ids were real: the walk left what it says it did.
  assert.equal((await keystone(stack).getProject(projectId)).name, "new name");
  const unused = LINES.filter((_, i) => !used.has(i));
  assert.deepEqual(unused, [], "every curl example of the fixture is replayed");
  assert.equal(LINES.length, 37, "the fixture holds the reference's 37 curl examples");
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
    // Extensions beside the reference: pool access and the directory.
    "get /v1/projects/{project_id}/access",
    "delete /v1/projects/{project_id}/access/users/{user_id}",
    "delete /v1/projects/{project_id}/access/groups/{group_id}",
    "get /v1/directory/users",
    "get /v1/directory/groups",
    // The dashboard's: sign-in and activity.
    "post /v1/auth/tokens",
    "get /v1/activity",
    "get /v1/activity/tasks",
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
