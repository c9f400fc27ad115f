// Users, groups and pool access from the CLI, by name, over the admin API's directory and
// pool access routes (GET /directory/users|groups, GET|PUT|DELETE /projects/{id}/access/...):
// giving a user a desktop takes an assignment and access, and one command does both.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type api,
  keystone,
  makeGroup,
  makePool,
  makeServers,
  makeUser,
  unique,
  useAdminStack,
} from "../admin/api.ts";
import type { Stack } from "../helpers/stack.ts";
import { adminEnv, failed, json, ok, runCli } from "./run.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const cli = (args: string[]) => runCli(args, adminEnv(stack));

/** The Keystone roles the user or group holds directly on the project (none before a grant). */
async function directRoles(projectId: string, actor: { userId: string } | { groupId: string }) {
  return keystone(stack).listRoleAssignments({ projectId, ...actor });
}

async function namedPool(): Promise<{ id: string; name: string }> {
  const name = unique("access-pool");
  return { id: await makePool(call, stack, { name }), name };
}

describe("users and groups by name", () => {
  test("search finds them; a name nobody has or several users share is an error listing the ids", async () => {
    const prefix = unique("dir");
    const [alice, team] = await Promise.all([
      makeUser(stack, `${prefix}-alice`),
      makeGroup(stack, `${prefix}-team`),
    ]);
    // The same user name in a second domain.
    const domain = await keystone(stack).createDomain({ name: unique("dom") });
    const twin = await keystone(stack).createUser({
      name: alice.name,
      domainId: domain.id,
      password: "Pw-twin-1234",
    });
    const pool = await namedPool();
    const [users, groups, noUser, twoUsers, noGroup] = await Promise.all([
      cli(["users", "search", prefix, "-f", "json"]),
      cli(["groups", "search", prefix, "-f", "value", "-c", "id", "-c", "name"]),
      cli(["pools", "access", "grant", pool.name, "--user", "no-such-user"]),
      cli(["pools", "access", "grant", pool.name, "--user", alice.name]),
      cli(["instances", "list", "--group", "no-such-group"]),
    ]);
    assert.deepEqual(
      json(users)
        .map((u: { ID: string; Name: string }) => `${u.ID} ${u.Name}`)
        .sort(),
      [`${alice.id} ${alice.name}`, `${twin.id} ${alice.name}`].sort(),
    );
    assert.equal(ok(groups), `${team.id} ${team.name}\n`);
    failed(noUser, 1, /^rs-server: no user named no-such-user\n$/);
    failed(twoUsers, 1, new RegExp(`^rs-server: 2 users are named ${alice.name}: .*; give the id\\n$`));
    assert.match(twoUsers.stderr, new RegExp(`${alice.id} \\(domain Default\\)`));
    assert.match(twoUsers.stderr, new RegExp(`${twin.id} \\(domain ${domain.name}\\)`));
    failed(noGroup, 1, /^rs-server: no group named no-such-group\n$/);
    // The refused grant changed nothing.
    assert.deepEqual(await directRoles(pool.id, { userId: alice.id }), []);
  });
});

describe("rs-server pools access", () => {
  test("grant, list and revoke a user's and a group's access to a pool, all by name", async () => {
    const [alice, team, pool] = await Promise.all([makeUser(stack), makeGroup(stack), namedPool()]);
    const grant = await cli([
      "pools",
      "access",
      "grant",
      pool.name,
      "--user",
      alice.name,
      "--group",
      team.name,
    ]);
    assert.equal(
      ok(grant),
      `granted access to pool ${pool.name} for user ${alice.name}\ngranted access to pool ${pool.name} for group ${team.name}\n`,
    );
    assert.equal((await directRoles(pool.id, { userId: alice.id })).length, 1);
    assert.equal((await directRoles(pool.id, { groupId: team.id })).length, 1);

    const listed = json(await cli(["pools", "access", "list", pool.name, "-f", "json"]));
    assert.deepEqual(
      listed.map((r: { Type: string; ID: string; Name: string }) => `${r.Type} ${r.ID} ${r.Name}`).sort(),
      [`group ${team.id} ${team.name}`, `user ${alice.id} ${alice.name}`],
    );

    const [revoked, noHolder] = await Promise.all([
      cli(["pools", "access", "revoke", pool.id, "--user", alice.id]),
      cli(["pools", "access", "grant", pool.name]),
    ]);
    ok(revoked);
    failed(noHolder, 2, /^rs-server: give --user and\/or --group\n$/);
    assert.deepEqual(await directRoles(pool.id, { userId: alice.id }), []);
    assert.deepEqual(
      json(await cli(["pools", "access", "list", pool.id, "-f", "json", "-c", "type", "-c", "id"])),
      [{ Type: "group", ID: team.id }],
    );
  });

  test("assign user --with-access gives a desktop in one command: the assignment and the access", async () => {
    const [alice, pool] = await Promise.all([makeUser(stack), namedPool()]);
    const desk = unique("desk");
    const [instance] = await makeServers(call, pool.id, { name: desk });
    ok(await cli(["assign", "user", desk, alice.name, "--with-access"]));
    assert.deepEqual((await call("GET", `/v1/servers/${instance}`)).body.server.users, [alice.id]);
    assert.equal((await directRoles(pool.id, { userId: alice.id })).length, 1);
    assert.equal(
      ok(await cli(["user-servers", alice.name, "-f", "value", "-c", "instance"])),
      `${instance}\n`,
    );
    ok(await cli(["unassign", "user", desk, alice.name]));
    assert.deepEqual((await call("GET", `/v1/servers/${instance}`)).body.server.users, []);
  });
});
