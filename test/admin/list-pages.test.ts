// limit/marker/sort_key/sort_dir on the admin lists besides sessions (issue 13): instances
// (paged in the database), pools, an instance's users and groups, a user's instances,
// floating IPs, volume assignments and tasks (newest first); without paging parameters each
// answers as before; admin.maxPageSize cuts a list asked without limit to its first page.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type Stack, startStack } from "../helpers/stack.ts";
import { api, assertError, makePool, makeServers, useAdminStack } from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
let pool: string;
let servers: string[];

useAdminStack(async (started) => {
  ({ stack, call } = started);
  pool = await makePool(call, stack);
  servers = await makeServers(call, pool, { count: 7 });
});

async function get(s: Stack, url: string) {
  const res = await s.runtime.admin!.inject({ url, headers: { "x-auth-token": s.adminToken } });
  return { status: res.statusCode, body: res.json(), link: res.headers.link as string | undefined };
}

/** Follows the Link next header to the end; every page's items. */
async function walk(s: Stack, url: string, key: string): Promise<any[]> {
  const items: any[] = [];
  let next: string | undefined = url;
  for (let page = 0; next; page++) {
    const res = await get(s, next);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    items.push(...res.body[key]);
    const m = res.link ? /^<([^>]+)>; rel="next"$/.exec(res.link) : null;
    if (res.link) {
      assert.ok(m, res.link);
      assert.deepEqual(res.body[`${key}_links`], [{ rel: "next", href: m[1] }]);
    }
    next = m?.[1];
    assert.ok(page < 100);
  }
  return items;
}

const ids = (items: { id: string }[]) => items.map((i) => i.id);

describe("GET /v1/servers/ pages", () => {
  test("pages walk the list the whole list answers, in its order", async () => {
    const whole = await get(stack, `/v1/servers/?project_id=${pool}`);
    assert.equal(whole.link, undefined);
    assert.deepEqual(Object.keys(whole.body), ["servers"]);
    assert.equal(whole.body.servers.length, 7);
    assert.deepEqual(
      ids(await walk(stack, `/v1/servers/?project_id=${pool}&limit=3`, "servers")),
      ids(whole.body.servers),
    );
  });

  test("sort_key=name sort_dir=desc, and the id", async () => {
    const byName = await walk(
      stack,
      `/v1/servers/?project_id=${pool}&sort_key=name&sort_dir=desc&limit=2`,
      "servers",
    );
    const names = byName.map((s) => s.name);
    assert.deepEqual(names, [...names].sort().reverse());
    assert.deepEqual(new Set(ids(byName)), new Set(servers));
    const byId = await walk(stack, `/v1/servers/?project_id=${pool}&sort_key=id&limit=4`, "servers");
    assert.deepEqual(ids(byId), [...servers].sort());
  });

  test("bad paging values are 400s", async () => {
    for (const q of ["limit=0", "limit=x", "sort_key=fault", "sort_dir=sideways", `marker=${randomUUID()}`])
      assertError(await call("GET", `/v1/servers/?${q}`), 400);
  });
});

describe("the bounded lists page in memory", () => {
  test("an instance's users and groups, a user's instances", async () => {
    const db = stack.runtime.store.db;
    const [a, b] = servers;
    const users = Array.from({ length: 5 }, (_, i) => `pager-user-${i}`);
    const groups = Array.from({ length: 4 }, (_, i) => `pager-group-${i}`);
    await db
      .insertInto("instance_users")
      .values(users.map((user_id) => ({ instance_id: a, user_id })))
      .execute();
    await db
      .insertInto("instance_groups")
      .values(groups.map((group_id) => ({ instance_id: a, group_id })))
      .execute();
    await db.insertInto("instance_users").values({ instance_id: b, user_id: users[0] }).execute();

    assert.deepEqual(ids(await walk(stack, `/v1/servers/${a}/users/?limit=2`, "users")), users);
    assert.deepEqual(
      ids(await walk(stack, `/v1/servers/${a}/users/?limit=2&sort_dir=desc`, "users")),
      [...users].reverse(),
    );
    assert.deepEqual(ids(await walk(stack, `/v1/servers/${a}/groups/?limit=3`, "groups")), groups);
    const mine = await walk(stack, `/v1/users/${users[0]}/servers/?limit=1`, "servers");
    assert.deepEqual(
      mine.map((s) => s.instance_id),
      [a, b].sort(),
    );
    // Without paging parameters: the answer as before, no link.
    const plain = await get(stack, `/v1/servers/${a}/users/`);
    assert.deepEqual(Object.keys(plain.body), ["users"]);
    assert.equal(plain.link, undefined);
    assertError(await call("GET", `/v1/servers/${a}/users/?marker=nobody`), 400);
    assertError(await call("GET", `/v1/servers/${a}/groups/?sort_key=name`), 400);
  });

  test("pools, floating IPs and volume assignments", async () => {
    const more = [await makePool(call, stack), await makePool(call, stack)];
    const whole = (await get(stack, "/v1/projects/")).body.projects;
    const byName = await walk(stack, "/v1/projects/?sort_key=name&limit=1", "projects");
    assert.deepEqual(
      byName.map((p) => p.name),
      whole.map((p: { name: string }) => p.name).sort(),
    );
    assert.ok(more.every((id) => ids(byName).includes(id)));

    const db = stack.runtime.store.db;
    const fips = Array.from({ length: 5 }, (_, i) => ({
      user_id: `fip-user-${i}`,
      floating_ip_id: `fip-${4 - i}`,
    }));
    await db.insertInto("user_floating_ips").values(fips).execute();
    const users = await walk(stack, "/v1/users/?limit=2&sort_key=floating_ip_id", "users");
    assert.deepEqual(
      users.map((u) => u.floating_ip_id),
      ["fip-0", "fip-1", "fip-2", "fip-3", "fip-4"],
    );

    await db
      .insertInto("volume_assignments")
      .values(
        Array.from({ length: 6 }, (_, i) => ({
          user_id: `vol-user-${i}`,
          project_id: pool,
          volume_id: `vol-${i}`,
        })),
      )
      .execute();
    const vols = await walk(stack, "/v1/volume-assignments/?limit=4&sort_dir=desc", "volume-assignments");
    const volIds = vols.map((v) => v.id);
    assert.deepEqual(
      volIds,
      [...volIds].sort((x, y) => y - x),
    );
    assert.equal(vols.length, 6);
    assertError(await call("GET", "/v1/volume-assignments/?marker=999999"), 400);
  });

  test("tasks, newest first, by created_at and id", async () => {
    // Some finished long ago, two of them at the same instant (the id breaks the tie).
    const at = Date.parse("2026-02-01T00:00:00Z");
    await stack.runtime.store.db
      .insertInto("tasks")
      .values(
        [0, 1, 1, 2, 3].map((i) => ({
          id: randomUUID(),
          name: "pager",
          status: "SUCCESS",
          created_at: new Date(at + i * 1000),
        })),
      )
      .execute();
    const whole = (await get(stack, "/v1/tasks")).body.tasks as string[];
    assert.ok(whole.length >= 5 && whole.length < 100, `${whole.length}`);
    const paged = await walk(stack, "/v1/tasks?limit=2", "tasks");
    // Tasks started since are newer than the first page: the walk holds every earlier one, in order.
    assert.deepEqual(
      paged.filter((id) => whole.includes(id)),
      whole.filter((id) => paged.includes(id)),
    );
    assert.ok(whole.slice(0, -1).every((id) => paged.includes(id)));
    assertError(await call("GET", "/v1/tasks?sort_dir=asc"), 400);
    assertError(await call("GET", `/v1/tasks?marker=${randomUUID()}`), 400);
  });
});

describe("admin.maxPageSize", () => {
  let small: Stack;
  before(async () => {
    small = await startStack({ admin: { port: 0, maxPageSize: 2 } });
  });
  after(() => small?.stop());

  test("a list without limit answers its first page and a next link; a larger limit is cut", async () => {
    const p = await makePool(api(small), small);
    const made = await makeServers(api(small), p, { count: 5 });
    const first = await get(small, `/v1/servers/?project_id=${p}`);
    assert.equal(first.body.servers.length, 2);
    assert.match(first.link ?? "", /rel="next"/);
    assert.equal(first.body.servers_links.length, 1);
    assert.equal((await get(small, `/v1/servers/?project_id=${p}&limit=50`)).body.servers.length, 2);
    assert.deepEqual(
      new Set(ids(await walk(small, `/v1/servers/?project_id=${p}`, "servers"))),
      new Set(made),
    );

    const db = small.runtime.store.db;
    const at = Date.parse("2026-03-01T00:00:00Z");
    await db
      .insertInto("sessions")
      .values(
        Array.from({ length: 5 }, (_, i) => ({
          id: randomUUID(),
          instance_id: made[i],
          user_id: `u${i}`,
          created_at: new Date(at + i * 1000),
        })),
      )
      .execute();
    const sessions = await get(small, "/v1/sessions/");
    assert.equal(sessions.body.sessions.length, 2);
    assert.match(sessions.link ?? "", /rel="next"/);
    const all = await walk(small, "/v1/sessions/", "sessions");
    assert.equal(all.length, 5);
    assert.equal(new Set(all.map((s) => s.session_id)).size, 5);
  });
});
