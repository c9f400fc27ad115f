// Hundreds of users ask for a desktop at once from one Standard pool through two broker
// processes (this one and a child process) on one database: no instance is ever held by two
// users, and every request ends completed or failed with a broker code (the pool's quota
// leaves some users without a desktop: 12).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  broker,
  login,
  makeInstances,
  makePool,
  makeUser,
  startBrokerProcess,
  stopBrokerProcess,
  type TestUser,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const USERS = 200;
const RESERVE = 100;
const QUOTA = 150;

describe("two broker processes, one pool, hundreds of users", () => {
  let s: Stack;
  let other: { child: ChildProcess; url: string };
  before(async () => {
    s = await startStack({
      admin: { enabled: false },
      allocation: { pollIntervalMs: 50, buildTimeoutSeconds: 60 },
    });
    other = await startBrokerProcess(s);
  });
  after(async () => {
    await stopBrokerProcess(other);
    await s?.stop();
  });

  it("never gives one instance to two users; every request ends with a desktop or a code", async () => {
    const pool = await makePool(s);
    await s.runtime.deps.cloud.nova.setQuotas(pool.id, { instances: QUOTA, cores: -1, ram: -1 });
    await makeInstances(s, pool.id, RESERVE);
    const users: TestUser[] = [];
    for (let i = 0; i < USERS; i += 25) {
      users.push(
        ...(await Promise.all(Array.from({ length: Math.min(25, USERS - i) }, () => makeUser(s, [pool.id])))),
      );
    }

    const outcomes = await Promise.all(
      users.map(async (u, i) => {
        const base = i % 2 === 0 ? s.brokerUrl : other.url;
        const target = { ...s, brokerUrl: base } as Stack;
        const accepted = await broker(target, "/v1/request-vm/", login(u));
        assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
        const token = accepted.headers.get("x-auth-token")!;
        // Polled through the other process: a request is anyone's to answer.
        const poller = { ...s, brokerUrl: i % 2 === 0 ? other.url : s.brokerUrl } as Stack;
        for (let round = 0; round < 1200; round++) {
          const res = await broker(
            poller,
            "/v1/get-vm/",
            { request: accepted.body.request_id },
            { "X-Auth-Token": token },
          );
          if (res.status === 400) return { user: u.id, code: res.body.error.code as number };
          if (res.body.status === "completed") return { user: u.id, instance: res.body.server.id as string };
          await new Promise((r) => setTimeout(r, 250));
        }
        throw new Error(`request of ${u.name} never finished`);
      }),
    );

    const completed = outcomes.filter((o) => o.instance);
    const failed = outcomes.filter((o) => o.code !== undefined);
    assert.equal(completed.length + failed.length, USERS);
    assert.equal(
      new Set(completed.map((o) => o.instance)).size,
      completed.length,
      "no instance handed out twice",
    );
    for (const f of failed) assert.equal(f.code, 12, `failed with ${f.code}`);
    assert.ok(completed.length >= RESERVE, `${completed.length} desktops`);

    const crowded = await s.runtime.store.db
      .selectFrom("instance_users")
      .select(["instance_id", (eb) => eb.fn.countAll<number>().as("n")])
      .groupBy("instance_id")
      .having((eb) => eb.fn.countAll(), ">", 1)
      .execute();
    assert.deepEqual(crowded, []);
    const holders = await s.runtime.store.db.selectFrom("instance_users").select("user_id").execute();
    assert.equal(holders.length, completed.length);
  });
});
