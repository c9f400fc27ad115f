// Sessions (#26-#28, PUT extension): filters with modifiers and `last`, count, creation by an
// admin or by an assigned user, closing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import {
  type api,
  assertAdminOnly,
  assertError,
  keystone,
  makeGroup,
  makePool,
  makeServers,
  makeUser,
  useAdminStack,
} from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
let pool: string;
useAdminStack(async (started) => {
  ({ stack, call } = started);
  pool = await makePool(call, stack, { operation_mode: "2" });
});

const tokenOf = (u: { name: string; password: string }) =>
  stack.token({ username: u.name, password: u.password, userDomainName: "Default" });

describe("POST /v1/sessions/", () => {
  test("an admin records a session on any instance, answering the reference's keys", async () => {
    const [id] = await makeServers(call, pool, { name: "desk" });
    const res = await call("POST", "/v1/sessions/", {
      body: {
        session: {
          instance_id: id,
          conn_type: "web",
          client_ip: "192.168.0.2",
          client_os: "Ubuntu 16.04",
          client_info: "RSclient 0.1.0",
        },
      },
    });
    assert.equal(res.status, 200);
    const s = res.body.session;
    for (const key of [
      "instance_id",
      "user_id",
      "user_name",
      "connection",
      "closed_at",
      "client_ip",
      "client_os",
      "client_info",
      "created_at",
    ]) {
      assert.ok(key in s, key);
    }
    assert.equal(s.instance_id, id);
    assert.equal(s.user_id, stack.sim.admin.userId);
    assert.equal(s.user_name, stack.sim.admin.username);
    assert.equal(s.connection, "web");
    assert.equal(s.connection_type, "web");
    assert.equal(s.closed_at, null);
    assert.equal(s.instance_name, "desk");
    assert.equal(s.project_id, pool);
    assert.match(s.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  test("a user token works only on an instance assigned to the user, directly or through a group", async () => {
    const [mine, groups, other] = await makeServers(call, pool, { count: 3 });
    const user = await makeUser(stack);
    const group = await makeGroup(stack);
    await keystone(stack).addUserToGroup(group.id, user.id);
    await call("POST", `/v1/servers/${mine}/users/`, { body: { users: [user.id] } });
    await call("POST", `/v1/servers/${groups}/groups/`, { body: { groups: [group.id] } });
    const token = await tokenOf(user);

    const direct = await call("POST", "/v1/sessions/", {
      token,
      body: { session: { instance_id: mine, conn_type: "rdp" } },
    });
    assert.equal(direct.status, 200, JSON.stringify(direct.body));
    assert.equal(direct.body.session.user_id, user.id);
    assert.equal(direct.body.session.user_name, user.name);
    const viaGroup = await call("POST", "/v1/sessions/", {
      token,
      body: { session: { instance_id: groups } },
    });
    assert.equal(viaGroup.status, 200);
    assertError(
      await call("POST", "/v1/sessions/", { token, body: { session: { instance_id: other } } }),
      403,
    );
    assertError(
      await call("POST", "/v1/sessions/", { token, body: { session: { instance_id: "nope" } } }),
      403,
    );
    const count = await call("GET", `/v1/sessions/count?user_id=${user.id}`);
    assert.deepEqual(count.body, { count: 2 });
  });

  test("bad input is 400, unknown instances 404, no token 401; nothing is recorded", async () => {
    const [id] = await makeServers(call, pool);
    const bad = [
      { instance_id: id, conn_type: "telnet" },
      { instance_id: id, client_ip: "not-an-ip" },
      { instance_id: id, conn_type: 5 },
      { conn_type: "web" },
    ];
    for (const session of bad) assertError(await call("POST", "/v1/sessions/", { body: { session } }), 400);
    assertError(await call("POST", "/v1/sessions/", { body: { session: { instance_id: "nope" } } }), 404);
    assertError(
      await call("POST", "/v1/sessions/", { token: null, body: { session: { instance_id: id } } }),
      401,
    );
    assertError(
      await call("POST", "/v1/sessions/", { token: "forged", body: { session: { instance_id: id } } }),
      401,
    );
    assertError(
      await call("POST", "/v1/sessions/", {
        token: stack.memberToken,
        body: { session: { instance_id: id } },
      }),
      403,
    );
    assert.deepEqual((await call("GET", `/v1/sessions/count?instance_id=${id}`)).body, { count: 0 });
  });
});

describe("GET /v1/sessions/ and /v1/sessions/count", () => {
  test("filters with modifiers, last, and counts the same selection", async () => {
    const [s1, s2] = await makeServers(call, pool, { count: 2, name: "filt" });
    const open = async (instance_id: string, conn_type: string) =>
      (await call("POST", "/v1/sessions/", { body: { session: { instance_id, conn_type } } })).body.session
        .session_id as string;
    const a = await open(s1, "web");
    const b = await open(s1, "rdp");
    const c = await open(s2, "web");
    const ids = async (q: string) => {
      const res = await call("GET", `/v1/sessions/${q}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const count = await call("GET", `/v1/sessions/count${q}`);
      assert.equal(count.body.count, res.body.sessions.length, q);
      return (res.body.sessions.map((s: { session_id: string }) => s.session_id) as string[]).sort();
    };
    assert.deepEqual(await ids(`?instance_id=${s1}`), [a, b].sort());
    assert.deepEqual(await ids(`?instance_id__in=${s1},${s2}`), [a, b, c].sort());
    assert.deepEqual(await ids(`?instance_id__in=${s1},${s2}&connection_type=web`), [a, c].sort());
    assert.deepEqual(await ids(`?instance_id__in=${s1},${s2}&last=True`), [b, c].sort());
    // last picks the latest of each instance among the matching sessions, not of all of them.
    assert.deepEqual(await ids(`?instance_id__in=${s1},${s2}&connection_type=web&last=True`), [a, c].sort());
    assert.deepEqual(await ids(`?instance_name=filt-2`), [c]);
    assert.deepEqual(await ids(`?project_id=${pool}&instance_id__in=${s1},${s2}&instance_id__notin=${s1}`), [
      c,
    ]);
    assert.deepEqual(
      await ids(`?instance_id__in=${s1},${s2}&user_name__contains=${stack.sim.admin.username.toUpperCase()}`),
      [a, b, c].sort(),
    );
    assert.deepEqual(await ids(`?instance_id__in=${s1},${s2}&user_id__noteq=${stack.sim.admin.userId}`), []);
  });

  test("unknown parameters, modifiers on plain ones and bad booleans are 400", async () => {
    assertError(await call("GET", "/v1/sessions/?instance_name__contains=x"), 400);
    assertError(await call("GET", "/v1/sessions/?user_id__between=x"), 400);
    assertError(await call("GET", "/v1/sessions/?colour=red"), 400);
    assertError(await call("GET", "/v1/sessions/?last=sometimes"), 400);
    assertError(await call("GET", "/v1/sessions/count?last=sometimes"), 400);
    await assertAdminOnly(call, stack, "GET", "/v1/sessions/");
    await assertAdminOnly(call, stack, "GET", "/v1/sessions/count");
  });
});

describe("PUT /v1/sessions/{id} (extension)", () => {
  test("closes a session now or at the given time", async () => {
    const [id] = await makeServers(call, pool);
    const open = async () =>
      (await call("POST", "/v1/sessions/", { body: { session: { instance_id: id } } })).body.session
        .session_id as string;
    const first = await open();
    const closed = await call("PUT", `/v1/sessions/${first}`, { body: {} });
    assert.equal(closed.status, 200);
    assert.match(closed.body.session.closed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    const second = await open();
    // A closing time a little ahead (clock skew) is taken; far in the future is not (issue 12.9).
    const at = new Date(Date.now() + 60_000).toISOString().slice(0, 19);
    const timed = await call("PUT", `/v1/sessions/${second}`, { body: { session: { closed_at: at } } });
    assert.equal(timed.body.session.closed_at, at);
    assertError(
      await call("PUT", `/v1/sessions/${second}`, {
        body: { session: { closed_at: "2099-01-02T03:04:05" } },
      }),
      400,
    );
    assertError(
      await call("PUT", `/v1/sessions/${second}`, { body: { session: { closed_at: "yesterday" } } }),
      400,
    );
    assertError(
      await call("PUT", `/v1/sessions/${second}`, {
        body: { session: { closed_at: "2000-01-01T00:00:00" } },
      }),
      400,
    );
    const listed = (await call("GET", `/v1/sessions/?instance_id=${id}`)).body.sessions;
    assert.equal(listed.find((s: { session_id: string }) => s.session_id === second).closed_at, at);
    assertError(await call("PUT", "/v1/sessions/00000000-0000-0000-0000-000000000000", { body: {} }), 404);
    assertError(await call("PUT", "/v1/sessions/not-a-uuid", { body: {} }), 404);
    assertError(await call("PUT", `/v1/sessions/${first}`, { token: null, body: {} }), 401);
    assertError(await call("PUT", `/v1/sessions/${first}`, { token: "not-a-token", body: {} }), 401);
  });

  test("a user token closes the user's own session; another's is a 404 and stays open", async () => {
    const [id] = await makeServers(call, pool);
    const user = await makeUser(stack);
    await call("POST", `/v1/servers/${id}/users/`, { body: { users: [user.id] } });
    const token = await tokenOf(user);
    const own = await call("POST", "/v1/sessions/", { token, body: { session: { instance_id: id } } });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    const others = await call("POST", "/v1/sessions/", { body: { session: { instance_id: id } } });
    const othersId = others.body.session.session_id as string;

    assertError(await call("PUT", `/v1/sessions/${othersId}`, { token, body: {} }), 404);
    const stillOpen = (await call("GET", `/v1/sessions/?instance_id=${id}`)).body.sessions.find(
      (x: { session_id: string }) => x.session_id === othersId,
    );
    assert.equal(stillOpen.closed_at, null);

    const closed = await call("PUT", `/v1/sessions/${own.body.session.session_id}`, { token, body: {} });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.ok(closed.body.session.closed_at);
  });
});

describe("bounds on what users record (issue 12.9)", () => {
  test("a user records at most sessions.userSessionsPerHour sessions per instance; an admin is not bounded", async () => {
    const [id, other] = await makeServers(call, pool, { count: 2 });
    const user = await makeUser(stack);
    await call("POST", `/v1/servers/${id}/users/`, { body: { users: [user.id] } });
    await call("POST", `/v1/servers/${other}/users/`, { body: { users: [user.id] } });
    const token = await tokenOf(user);
    const limit = stack.config.sessions.userSessionsPerHour;
    stack.config.sessions.userSessionsPerHour = 3;
    try {
      const record = (instance: string, as?: string) =>
        call("POST", "/v1/sessions/", { token: as, body: { session: { instance_id: instance } } });
      // Concurrent ones take turns: exactly three get through.
      const first = await Promise.all(Array.from({ length: 6 }, () => record(id, token)));
      assert.deepEqual(first.map((r) => r.status).sort(), [200, 200, 200, 400, 400, 400]);
      for (const r of first.filter((x) => x.status === 400)) assertError(r, 400);
      const count = await call("GET", `/v1/sessions/count?instance_id=${id}&user_id=${user.id}`);
      assert.equal(count.body.count, 3);
      // Another instance has its own bound; an admin token records as many as it likes.
      assert.equal((await record(other, token)).status, 200);
      for (let i = 0; i < 4; i++) assert.equal((await record(id)).status, 200);
    } finally {
      stack.config.sessions.userSessionsPerHour = limit;
    }
  });
});
