// The operator CLI as `openstack` users expect it, against a real stack: -f/-c/--noindent on
// real answers, names wherever ids are (with the not-found and ambiguous errors), waiting with
// progress only on a terminal, and the admin API found from the server's own configuration.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parse } from "yaml";
import { writeCloudsYaml } from "../../src/simulator/server.ts";
import { type api, keystone, makePool, makeServers, unique, useAdminStack } from "../admin/api.ts";
import type { Stack } from "../helpers/stack.ts";
import { adminEnv, cleanEnv, failed, json, ok, runCli } from "./run.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const scratch = mkdtempSync(join(tmpdir(), "rs-cli-os-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const cli = (args: string[], env: NodeJS.ProcessEnv = adminEnv(stack)) => runCli(args, env);

const IMAGE_NAME = "cirros-0.6.2-x86_64-disk";

/** A pool made by the CLI from the seed's flavor, image and network names; its id. */
async function poolByNames(name: string): Promise<string> {
  const run = await cli([
    "pools",
    "create",
    name,
    "--flavor",
    stack.sim.seed.flavorName,
    "--image",
    IMAGE_NAME,
    "--network",
    "private",
    "--min-reserve",
    "0",
    "-f",
    "value",
    "-c",
    "id",
  ]);
  // What `id=$(rs-server pools create ... -f value -c id)` reads: the id and nothing else.
  assert.match(ok(run), /^[0-9a-f]{32}\n$/);
  assert.equal(run.stderr, "");
  return run.stdout.trim();
}

describe("output formats on real answers", () => {
  test("json, value, csv and yaml with -c; --noindent; an unknown column is a usage error", async () => {
    const name = unique("fmt");
    const id = await poolByNames(name);
    const [listJson, shown, oneLine, csv, yaml, value, badColumn] = await Promise.all([
      cli(["pools", "list", "-f", "json", "-c", "id", "-c", "name"]),
      cli(["pools", "show", name, "-f", "json"]),
      cli(["pools", "show", id, "-f", "json", "--noindent", "-c", "id", "-c", "operation_mode"]),
      cli(["pools", "list", "--name", name, "-f", "csv", "-c", "ID", "-c", "Name", "-c", "min_reserve_vm"]),
      cli(["pools", "show", name, "-f", "yaml", "-c", "name", "-c", "reserve"]),
      cli(["pools", "list", "--name", name, "-f", "value", "-c", "name", "-c", "id"]),
      cli(["pools", "list", "-c", "colour"]),
    ]);
    // A list is an array of objects keyed by column name, as `openstack ... list -f json`.
    assert.ok(Array.isArray(json(listJson)));
    assert.deepEqual(
      json(listJson).find((p: { ID: string }) => p.ID === id),
      { ID: id, Name: name },
    );
    // A show is the object, its flavor, image and network names turned into the seed's ids.
    const project = json(shown);
    assert.equal(project.id, id);
    assert.equal(project.flavor_id, stack.sim.seed.flavorId);
    assert.equal(project.image_id, stack.sim.seed.imageId);
    assert.equal(project.network_id, stack.sim.seed.networkId);
    assert.equal(ok(oneLine), `{"id":"${id}","operation_mode":"1"}\n`);
    assert.equal(ok(csv), `"ID","Name","min_reserve_vm"\n"${id}","${name}",0\n`);
    const parsed = parse(ok(yaml));
    assert.deepEqual(Object.keys(parsed), ["name", "reserve"]);
    assert.equal(parsed.reserve.target, 0);
    assert.equal(ok(value), `${name} ${id}\n`);
    failed(
      badColumn,
      2,
      /^rs-server: no column colour: choose from ID, Name, Mode, Reserve, State, Domain, /,
    );
  });
});

describe("names wherever ids are", () => {
  test("flavor, image and network names are looked up in the cloud; none or several is an error", async () => {
    const { seed } = stack.sim;
    // Neutron lets two networks share a name: the CLI must not pick one.
    const twin = unique("net");
    const netIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${stack.sim.url}/network/v2.0/networks`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Auth-Token": stack.adminToken },
        body: JSON.stringify({ network: { name: twin } }),
      });
      assert.equal(res.status, 201);
      netIds.push(((await res.json()) as { network: { id: string } }).network.id);
    }
    const name = unique("names");
    const create = (...extra: string[]) =>
      cli(["pools", "create", name, "--flavor", seed.flavorId, "--image", seed.imageId, ...extra]);
    // A bare token says nothing of where Keystone is, so there is no catalog to look names up in.
    const { OS_AUTH_URL: _, ...tokenOnly } = adminEnv(stack);
    const [noFlavor, noImage, twoNetworks, byFlavorId, noCatalog] = await Promise.all([
      cli(["pools", "create", name, "--flavor", "m1.nope", "--image", IMAGE_NAME]),
      cli(["pools", "create", name, "--flavor", seed.flavorName, "--image", "no-such-image"]),
      create("--network", twin),
      // Nova's flavor ids are free text: "2" is tried as an id before it is taken for a name.
      cli([
        "pools",
        "update",
        (await makePool(call, stack)) as string,
        "--flavor",
        seed.flavorId,
        "-f",
        "value",
        "-c",
        "flavor_id",
      ]),
      runCli(
        [
          "pools",
          "create",
          name,
          "--flavor",
          seed.flavorName,
          "--image",
          seed.imageId,
          "--token",
          stack.adminToken,
        ],
        tokenOnly,
      ),
    ]);
    failed(noFlavor, 1, /^rs-server: no flavor named m1\.nope\n$/);
    failed(noImage, 1, /^rs-server: no image named no-such-image\n$/);
    failed(twoNetworks, 1, new RegExp(`^rs-server: 2 networks are named ${twin}: .*; give the id\\n$`));
    for (const netId of netIds) assert.match(twoNetworks.stderr, new RegExp(netId));
    assert.equal(ok(byFlavorId), `${seed.flavorId}\n`);
    failed(
      noCatalog,
      2,
      new RegExp(
        `^rs-server: flavor ${seed.flavorName} is a name, which the CLI looks up in the cloud's catalog: set OS_AUTH_URL`,
      ),
    );
    // None of the refused commands created the pool.
    assert.deepEqual((await call("GET", `/v1/projects/?name=${name}`)).body.projects, []);
  });

  test("pools and instances by name: one is used, none or several is an error listing the ids", async () => {
    const domain = await keystone(stack).createDomain({ name: unique("dom") });
    const shared = unique("twin-pool");
    const [here, there] = await Promise.all([
      makePool(call, stack, { name: shared }),
      makePool(call, stack, { name: shared, domain_id: domain.id }),
    ]);
    const pool = await makePool(call, stack, { name: unique("inst-pool") });
    const poolName = (await call("GET", `/v1/projects/${pool}`)).body.project.name;
    const twins = unique("twin");
    const solo = unique("solo");
    const [a, b] = [
      ...(await makeServers(call, pool, { name: twins })),
      ...(await makeServers(call, pool, { name: twins })),
    ];
    const [soloId] = await makeServers(call, pool, { name: solo });

    const [twoPools, twoInstances, oneInstance, noInstance, listed, noPool] = await Promise.all([
      cli(["pools", "stats", shared]),
      cli(["instances", "show", twins]),
      cli(["instances", "show", solo, "-f", "value", "-c", "id"]),
      cli(["instances", "delete", "no-such-instance"]),
      cli(["instances", "list", "--pool", poolName, "-f", "value", "-c", "id"]),
      // A pool name that matches nothing is an error, not an empty table.
      cli(["instances", "list", "--pool", "no-such-pool"]),
    ]);
    failed(twoPools, 1, new RegExp(`^rs-server: 2 pools are named ${shared}: .*; give the id\\n$`));
    assert.match(twoPools.stderr, new RegExp(`${here} \\(domain default\\)`));
    assert.match(twoPools.stderr, new RegExp(`${there} \\(domain ${domain.id}\\)`));
    failed(twoInstances, 1, new RegExp(`^rs-server: 2 instances are named ${twins}: .*; give the id\\n$`));
    assert.match(twoInstances.stderr, new RegExp(a));
    assert.match(twoInstances.stderr, new RegExp(b));
    assert.equal(ok(oneInstance), `${soloId}\n`);
    failed(noInstance, 1, /^rs-server: no instance named no-such-instance\n$/);
    assert.deepEqual(ok(listed).trim().split("\n").sort(), [a, b, soloId].sort());
    failed(noPool, 1, /^rs-server: no pool named no-such-pool\n$/);
  });
});

describe("long operations", () => {
  test("instances create --wait and auto-allocate --wait print only the result when piped", async () => {
    const name = unique("wait");
    await poolByNames(name);
    const [created, allocated] = await Promise.all([
      cli([
        "instances",
        "create",
        "--pool",
        name,
        "--count",
        "2",
        "--name",
        name,
        "--wait",
        "-f",
        "json",
        "-c",
        "name",
        "-c",
        "status",
      ]),
      cli(["auto-allocate", name, "--wait", "-f", "value", "-c", "status"]),
    ]);
    assert.deepEqual(
      json(created).sort((x: { Name: string }, y: { Name: string }) => x.Name.localeCompare(y.Name)),
      [
        { Name: `${name}-1`, Status: "ACTIVE" },
        { Name: `${name}-2`, Status: "ACTIVE" },
      ],
    );
    assert.equal(created.stderr, "");
    assert.equal(ok(allocated), "SUCCESS\n");
    assert.equal(allocated.stderr, "");
  });

  // `script` gives the CLI a terminal; without it (a minimal image) there is no terminal to test.
  test("on a terminal, instances create --wait shows its progress", {
    skip: !existsSync("/usr/bin/script") && "no /usr/bin/script",
  }, async () => {
    const name = unique("tty");
    await poolByNames(name);
    const line = [
      "npx",
      "tsx",
      "src/cli/index.ts",
      "instances",
      "create",
      "--pool",
      name,
      "--wait",
      "-f",
      "value",
      "-c",
      "status",
    ].join(" ");
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        "/usr/bin/script",
        ["-qec", line, "/dev/null"],
        { cwd: new URL("../..", import.meta.url).pathname, env: adminEnv(stack) },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    assert.match(output, /\/1 instances built, \d building \(\d+ s\)/);
    assert.match(output, /1\/1 instances built, 0 building \(\d+ s\)\r?\nACTIVE/);
  });
});

describe("the CLI follows its server's configuration", () => {
  test("RS_SERVER_ADMIN_PORT, --config and RS_SERVER_CONFIG find the admin API without RS_SERVER_URL", async () => {
    const { port } = new URL(stack.adminUrl);
    const dataDir = join(scratch, "data");
    writeCloudsYaml(stack.sim, join(dataDir, "clouds.yaml"));
    const configFile = join(scratch, "rs-server.yaml");
    writeFileSync(configFile, `dataDir: ${dataDir}\nadmin:\n  host: 0.0.0.0\n  port: ${port}\n`);
    const off = join(scratch, "off.yaml");
    writeFileSync(off, "admin:\n  enabled: false\n");
    const { RS_SERVER_URL: _, ...withOs } = adminEnv(stack);
    const [byPort, byFlag, byEnv, switchedOff] = await Promise.all([
      cli(["info", "-f", "value", "-c", "version"], { ...withOs, RS_SERVER_ADMIN_PORT: port }),
      // The configuration's data directory holds the clouds.yaml of --os-cloud.
      cli(
        ["info", "-f", "value", "-c", "version", "--config", configFile, "--os-cloud", "rs-admin"],
        cleanEnv(),
      ),
      cli(["info", "-f", "value", "-c", "version"], { ...withOs, RS_SERVER_CONFIG: configFile }),
      cli(["info"], { ...withOs, RS_SERVER_CONFIG: off }),
    ]);
    for (const run of [byPort, byFlag, byEnv]) assert.match(ok(run), /^\d+\.\d+\.\d+\S*\n$/);
    failed(
      switchedOff,
      2,
      /^rs-server: the admin API is switched off in .*off\.yaml \(admin\.enabled\): give --url\n$/,
    );
  });
});
