// The Kerberos password script (issue 12.6): it runs only for a user Keystone accepts with their
// current password, never with a control character in any field, never more than
// kerberos.maxConcurrent at once (beyond: a bounded wait, then code 22), and failed attempts
// are rate-limited like any broker login (code 28).
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { broker, makePool, makeUser, type Reply, type TestUser } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const LIMITS = {
  enabled: true,
  windowSeconds: 600,
  loginFailuresPerAddress: 1000,
  loginFailuresPerUser: 3,
  invalidTokensPerAddress: 1000,
};

function code(res: Reply): number | undefined {
  return res.body?.error?.code;
}

describe("the Kerberos password script", () => {
  let s: Stack;
  let alice: TestUser;
  const dir = mkdtempSync(join(tmpdir(), "rs-krb-"));
  const runs = join(dir, "runs.log");
  const release = join(dir, "release");
  // Records each run's start and end (a later test makes it wait for a release file).
  const script = join(dir, "kpasswd.sh");
  writeFileSync(
    script,
    `#!/bin/sh\nread user\necho "start $user" >> ${runs}\necho "end $user" >> ${runs}\ncat >/dev/null\nexit 0\n`,
  );
  chmodSync(script, 0o755);
  const ranLines = () =>
    existsSync(runs) ? readFileSync(runs, "utf8").trim().split("\n").filter(Boolean) : [];
  const change = (u: { name: string; password: string }, extra: Record<string, unknown> = {}) =>
    broker(s, "/v1/change-password/", {
      user: u.name,
      user_domain_name: "Default",
      password: u.password,
      new_password: "Next-pass-1",
      ...extra,
    });

  before(async () => {
    s = await startStack({
      admin: { enabled: false },
      rateLimit: LIMITS,
      kerberos: { scriptPath: script, maxConcurrent: 2, queueTimeoutSeconds: 0.3 },
    });
    const pool = await makePool(s);
    alice = await makeUser(s, [pool.id]);
  });
  after(async () => {
    await s?.stop().catch(() => {});
  });

  it("runs for a user whose current password Keystone accepts", async () => {
    const res = await change(alice);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(ranLines(), [`start ${alice.name}`, `end ${alice.name}`]);
  });

  it("does not run for an unknown user or a wrong password: 6", async () => {
    const before = ranLines().length;
    const bob = await makeUser(s, []);
    assert.equal(code(await change({ name: "nobody-at-all", password: "x" })), 6);
    assert.equal(code(await change({ name: bob.name, password: "wrong" })), 6);
    assert.equal(ranLines().length, before, "the script did not run");
  });

  it("does not run with a control character in any field: 9", async () => {
    const before = ranLines().length;
    assert.equal(code(await change(alice, { user: `${alice.name}\nroot` })), 9);
    assert.equal(code(await change(alice, { new_password: "a\nb" })), 9);
    assert.equal(code(await change(alice, { user_domain_name: "Default\r" })), 9);
    assert.equal(ranLines().length, before);
  });

  it("wrong passwords for one user are rate-limited: 28 with Retry-After", async () => {
    const carol = await makeUser(s, []);
    for (let i = 0; i < LIMITS.loginFailuresPerUser; i++)
      assert.equal(code(await change({ name: carol.name, password: "wrong" })), 6);
    const res = await change(carol);
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(code(res), 28);
    assert.ok(Number(res.headers.get("retry-after")) > 0);
  });

  it("at most kerberos.maxConcurrent at once; the others wait, then answer 22", async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => makeUser(s, [])));
    const before = ranLines().length;
    // Every run from now on holds its slot until the release file appears.
    const held = new Set(users.map((u) => u.name));
    writeFileSync(
      script,
      `#!/bin/sh\nread user\necho "start $user" >> ${runs}\nwhile [ ! -f ${release} ]; do sleep 0.05; done\necho "end $user" >> ${runs}\ncat >/dev/null\nexit 0\n`,
    );
    const answers = users.map((u) => change(u));
    // The four that found no slot are answered while the two running scripts still hold theirs.
    const settled: Reply[] = [];
    for (const p of answers) p.then((r) => settled.push(r));
    for (let i = 0; i < 600 && settled.length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      settled.map((r) => code(r)),
      [22, 22, 22, 22],
      JSON.stringify(settled.map((r) => r.body)),
    );
    const started = ranLines()
      .slice(before)
      .filter((l) => l.startsWith("start ") && held.has(l.slice(6)));
    assert.equal(started.length, 2, `scripts started: ${started.join(", ")}`);
    writeFileSync(release, "");
    const all = await Promise.all(answers);
    assert.deepEqual(all.map((r) => r.status).sort(), [200, 200, 400, 400, 400, 400]);
    assert.equal(ranLines().slice(before).length, 4, "two runs, each started and ended");
    // Slots are given back: the next change runs.
    assert.equal((await change(users[0])).status, 200);
  });
});
