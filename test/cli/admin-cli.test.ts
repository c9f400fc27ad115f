// The operator CLI (`rs-server pools|instances|assign|sessions|...`) run as a child process
// against a real stack: the simulator's Keystone for the login, the admin API for the rest.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { writeCloudsYaml } from "../../src/simulator/server.ts";
import { type api, makePool, makeServers, makeUser, unique, useAdminStack } from "../admin/api.ts";
import type { Stack } from "../helpers/stack.ts";
import { adminEnv, failed, json, ok, runCli } from "./run.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const scratch = mkdtempSync(join(tmpdir(), "rs-cli-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const cli = (args: string[], env: NodeJS.ProcessEnv = adminEnv(stack)) => runCli(args, env);

describe("rs-server pools", () => {
  test("create, list, show, update and delete a pool, in tables and in the API's JSON", async () => {
    const { seed } = stack.sim;
    const name = unique("cli-pool");
    const created = ok(
      await cli([
        "pools",
        "create",
        name,
        "--flavor",
        seed.flavorId,
        "--image",
        seed.imageId,
        "--network",
        seed.networkId,
        "--mode",
        "simultaneous",
        "--min-reserve",
        "0",
        "-f",
        "value",
        "-c",
        "id",
      ]),
    );
    // `id=$(rs-server pools create ... -f value -c id)`: the id alone on stdout.
    assert.match(created, /^[0-9a-f]{32}\n$/);
    const id = created.trim();

    const [list, shown, updated, byName] = await Promise.all([
      cli(["pools", "list"]),
      cli(["pools", "show", id, "--json"]),
      cli(["pools", "update", id, "--description", "edited", "--json"]),
      // A pool may be named by its project name as well.
      cli(["pools", "stats", name, "--json"]),
    ]);
    assert.equal(typeof json(byName).statistics, "object");
    const row = ok(list)
      .split("\n")
      .find((l) => l.includes(name));
    assert.match(ok(list), /^\+-+\+[-+]+\n\| ID\s+\| Name\s+\| Mode\s+\| Reserve\s+\| State\s+\|/);
    assert.match(row ?? "", new RegExp(`^\\| ${id} \\| ${name}\\s+\\| simultaneous \\| 0/0\\s+\\|`));
    const project = json(shown).project;
    assert.equal(project.name, name);
    assert.equal(project.operation_mode, "2");
    assert.equal(json(updated).project.id, id);

    assert.equal(ok(await cli(["pools", "delete", id])).trim(), `deleted pool ${id}`);
    assert.equal((await call("GET", `/v1/projects/${id}`)).status, 404);
  });
});

describe("rs-server pools --reserve-schedule", () => {
  test("sets a pool's reserve schedule from a JSON file, refuses a bad one, and removes it", async () => {
    const pool = await makePool(call, stack, { min_reserve_vm: 1 });
    const schedule = {
      windows: [
        { days: ["mon", "fri"], start: "08:00", end: "18:00", time_zone: "Europe/Paris", target: 20 },
      ],
      holidays: ["2026-12-25"],
    };
    const good = join(scratch, "schedule.json");
    const bad = join(scratch, "bad-schedule.json");
    writeFileSync(good, JSON.stringify(schedule));
    writeFileSync(bad, JSON.stringify({ windows: [{ ...schedule.windows[0], time_zone: "Nowhere/Land" }] }));
    const set = json(await cli(["pools", "update", pool, "--reserve-schedule", good, "--json"]));
    // Stored as given, a window's absent max_instances written out as null (no cap).
    assert.deepEqual(set.project.reserve_schedule, {
      ...schedule,
      windows: [{ ...schedule.windows[0], max_instances: null }],
    });
    assert.equal(typeof set.project.reserve.target, "number");
    failed(
      await cli(["pools", "update", pool, "--reserve-schedule", bad]),
      1,
      /time_zone must be an IANA time zone/,
    );
    failed(
      await cli(["pools", "update", pool, "--reserve-schedule", join(scratch, "none.json")]),
      2,
      /cannot read/,
    );
    const cleared = json(await cli(["pools", "update", pool, "--reserve-schedule", "none", "--json"]));
    assert.equal(cleared.project.reserve_schedule, null);
  });
});

describe("rs-server instances, assign, unassign, user-servers", () => {
  test("creates two instances in one request, lists them and moves users on and off them", async () => {
    const pool = await makePool(call, stack, { operation_mode: "2" });
    const [alice, bob] = await Promise.all([makeUser(stack), makeUser(stack)]);
    const created = json(
      await cli(["instances", "create", "--pool", pool, "--count", "2", "--name", "desk", "--json"]),
    );
    assert.equal(created.servers.length, 2);
    const [first, second] = created.servers.map((s: { id: string }) => s.id);
    assert.equal(
      (await call("POST", `/v1/servers/${second}/users/`, { body: { users: [bob.id] } })).status,
      204,
    );

    const [listed, table, assigned, unassigned] = await Promise.all([
      cli(["instances", "list", "--pool", pool, "--json"]),
      cli(["instances", "list", "--filter", `project_id__in=${pool}`]),
      cli(["assign", "user", first, alice.id]),
      cli(["unassign", "user", second, bob.id]),
    ]);
    assert.deepEqual(
      json(listed)
        .servers.map((s: { name: string }) => s.name)
        .sort(),
      ["desk-1", "desk-2"],
    );
    assert.match(ok(table), /\| ID\s+\| Name\s+\| Status\s+\| Pool\s+\| Users/);
    // Border, header, border, two rows, border.
    assert.equal(ok(table).trim().split("\n").length, 6);
    ok(assigned);
    ok(unassigned);

    const mine = json(await cli(["user-servers", alice.id, "--json"]));
    assert.deepEqual(
      mine.servers.map((s: { instance_id: string }) => s.instance_id),
      [first],
    );
    assert.deepEqual((await call("GET", `/v1/servers/${second}`)).body.server.users, []);
  });
});

describe("rs-server sessions", () => {
  test("lists and counts sessions with the API's filters and modifiers", async () => {
    const pool = await makePool(call, stack, { operation_mode: "2" });
    const [instance] = await makeServers(call, pool, { name: unique("sess") });
    for (const conn_type of ["web", "rdp"]) {
      const res = await call("POST", "/v1/sessions/", {
        body: { session: { instance_id: instance, conn_type } },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const [all, last, count] = await Promise.all([
      cli(["sessions", "list", "--instance", instance, "--filter", "user_name__contains=ADM"]),
      cli(["sessions", "list", "--instance", instance, "--last", "--json"]),
      cli(["sessions", "count", "--filter", `instance_id__eq=${instance}`, "-f", "value"]),
    ]);
    const rows = ok(all).trim().split("\n");
    assert.match(rows[1], /^\| Session\s+\| User\s+\| Instance\s+\| Type/);
    assert.equal(rows.length, 6);
    assert.deepEqual(
      json(last).sessions.map((s: { connection_type: string }) => s.connection_type),
      ["rdp"],
    );
    assert.equal(ok(count).trim(), "2");

    // One page at a time: the first prints the next page's marker, the second has none.
    const first = ok(
      await cli([
        "sessions",
        "list",
        "--instance",
        instance,
        "--limit",
        "1",
        "--sort",
        "created_at:asc",
        "-f",
        "value",
        "-c",
        "type",
      ]),
    );
    const m = /^web\nnext page: --marker (\S+)\n$/.exec(first);
    assert.ok(m, first);
    const second = ok(
      await cli([
        "sessions",
        "list",
        "--instance",
        instance,
        "--limit",
        "1",
        "--sort",
        "created_at:asc",
        "--marker",
        m[1],
        "-f",
        "value",
        "-c",
        "type",
      ]),
    );
    assert.equal(second, "rdp\n");
    failed(await cli(["sessions", "list", "--sort", "client_ip"]), 1, /Unknown sort_key client_ip/);
  });
});

describe("rs-server: credentials and failures", () => {
  test("logs in with a clouds.yaml cloud and says clearly why a command failed", async () => {
    writeCloudsYaml(stack.sim, join(scratch, "clouds.yaml"));
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const bare = Object.fromEntries(Object.entries(adminEnv(stack)).filter(([k]) => !k.startsWith("OS_")));
    const [cloud, notFound, wrongPassword, refused, badUsage, unknownCloud, noSuchName, badFormat] =
      await Promise.all([
        cli(["info", "--os-cloud", "rs-admin", "--data-dir", scratch, "--url", stack.adminUrl], bare),
        cli(["pools", "show", "0123456789abcdef0123456789abcdef"]),
        cli(["pools", "list"], { ...adminEnv(stack), OS_PASSWORD: "wrong" }),
        cli(["info", "--token", stack.adminToken, "--url", `http://127.0.0.1:${closedPort}`]),
        cli(["instances", "create", "--count", "2"]),
        cli(["pools", "list", "--os-cloud", "nowhere", "--clouds-file", join(scratch, "clouds.yaml")], bare),
        cli(["pools", "show", "no-such-pool-name"]),
        cli(["pools", "list", "-f", "xml"]),
      ]);
    assert.match(ok(cloud), /^\| version\s+\| \S+/m);
    failed(notFound, 1, /^rs-server: .*0123456789abcdef0123456789abcdef.*\(HTTP 404\)\n$/);
    failed(wrongPassword, 1, /Keystone at \S+ refused the credentials of admin/);
    failed(refused, 1, /cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+: connection refused/);
    failed(badUsage, 2, /required option '--pool <pool>' not specified/);
    failed(noSuchName, 1, /^rs-server: no pool named no-such-pool-name\n$/);
    failed(unknownCloud, 2, /cloud nowhere is not in any clouds\.yaml/);
    failed(badFormat, 2, /argument 'xml' is invalid\. Allowed choices are table, json, value, yaml, csv/);
  });
});
