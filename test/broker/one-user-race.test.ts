// One user, many requests at once (a double click, a client that retries, a script): 20
// parallel request-vm of one user in a Standard pool, half through another broker process.
// Every request ends with the same desktop, the user holds exactly one instance of the pool,
// and the other free instances stay free.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  broker,
  call,
  finished,
  login,
  makeInstances,
  makePool,
  makeUser,
  startBrokerProcess,
  stopBrokerProcess,
  type TestUser,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const PARALLEL = 20;

describe("one user's parallel requests", () => {
  let s: Stack;
  let other: { child: ChildProcess; url: string } | undefined;
  before(async () => {
    s = await startStack({ admin: { enabled: false } });
    other = await startBrokerProcess(s);
  });
  after(async () => {
    await stopBrokerProcess(other);
    await s?.stop();
  });

  /** PARALLEL request-vm of the user at once, half through each process: the server each ended with. */
  const requestAll = (u: TestUser) =>
    Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        const base = i % 2 === 0 ? s.brokerUrl : other!.url;
        const accepted = await call(base, "POST", "/v1/request-vm/", { body: login(u) });
        assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
        const done = await finished(s, accepted.headers.get("x-auth-token")!, accepted.body.request_id);
        assert.equal(done.body.status, "completed", JSON.stringify(done.body));
        return done.body.server.id as string;
      }),
    );
  const heldBy = async (u: TestUser) =>
    (
      await s.runtime.store.db
        .selectFrom("instance_users")
        .select("instance_id")
        .where("user_id", "=", u.id)
        .execute()
    ).map((h) => h.instance_id);

  it("get one desktop, the same for every request, whatever the race", async () => {
    const pool = await makePool(s, { operation_mode: "1" });
    const free = await makeInstances(s, pool.id, 10);
    const u = await makeUser(s, [pool.id]);
    const outcomes = await requestAll(u);
    if (new Set(outcomes).size !== 1) {
      // It failed once in CI (5 desktops) and never here: say what each request did.
      const rows = await s.runtime.store.db
        .selectFrom("requests")
        .select(["id", "instance_id", "task_id", "status", "steps", "created_at", "completed_at"])
        .where("user_id", "=", u.id)
        .orderBy("created_at")
        .execute();
      const history = await s.runtime.store.db
        .selectFrom("assignment_history")
        .selectAll()
        .where("subject_id", "=", u.id)
        .orderBy("at")
        .execute();
      const statuses = await s.runtime.store.db
        .selectFrom("instances")
        .select(["id", "status", "ready_at", "image_id", "draining"])
        .where("pool_id", "=", pool.id)
        .execute();
      console.error(JSON.stringify({ rows, history, statuses }, null, 1));
    }
    assert.deepEqual(new Set(outcomes).size, 1, `desktops handed out: ${[...new Set(outcomes)].join(", ")}`);
    assert.deepEqual(await heldBy(u), [outcomes[0]]);
    assert.ok(free.includes(outcomes[0]));
    // A later request of the same user still gets the same desktop.
    const again = await broker(s, "/v1/request-vm/", login(u));
    const last = await finished(s, again.headers.get("x-auth-token")!, again.body.request_id);
    assert.equal(last.body.server.id, outcomes[0]);
  });

  it("with nothing free, one desktop is built for all of the user's parallel requests", async () => {
    const pool = await makePool(s, { operation_mode: "1" });
    const u = await makeUser(s, [pool.id]);
    const outcomes = await requestAll(u);
    assert.equal(new Set(outcomes).size, 1, `desktops handed out: ${[...new Set(outcomes)].join(", ")}`);
    assert.deepEqual(await heldBy(u), [outcomes[0]]);
    // Nova was asked once: one instance created for the user's requests, none left behind.
    const built = await s.runtime.store.db
      .selectFrom("assignment_history")
      .select("instance_id")
      .where("subject_id", "=", u.id)
      .where("reason", "like", "created for broker request%")
      .execute();
    assert.equal(built.length, 1);
    const turns = await s.runtime.store.db
      .selectFrom("user_builds")
      .selectAll()
      .where("user_id", "=", u.id)
      .execute();
    assert.deepEqual(turns, []);
  });
});
