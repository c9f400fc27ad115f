// The portal's broker client (the browser module, run here by Node) against a real broker:
// sign in, ask, poll to a desktop with an address; the broker's messages for its codes, in
// Russian when asked; the 19 warning; a password change; the connection hints.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  connectionHints,
  createBrokerClient,
  formatDuration,
  PortalError,
  type VmState,
} from "../../src/broker/portal/broker-client.js";
import { makeInstances, makePool, makeUser, type TestUser } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const creds = (u: TestUser) => ({ user: u.name, password: u.password, domain: u.domain });

async function failure(promise: Promise<unknown>): Promise<PortalError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PortalError, String(err));
    return err;
  }
  assert.fail("expected a PortalError");
}

describe("portal broker client", () => {
  let s: Stack;
  let client: ReturnType<typeof createBrokerClient>;
  let pool: { id: string; name: string };
  before(async () => {
    s = await startStack({ admin: { enabled: false } });
    client = createBrokerClient({ baseUrl: `${s.brokerUrl}/portal/../` });
    pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
  });
  after(async () => {
    await s?.stop();
  });

  it("signs in, asks for a desktop and polls it to completed with an IP, each state passed to onUpdate", async () => {
    const u = await makeUser(s, [pool.id]);
    assert.deepEqual(await client.getProjects(creds(u)), [pool.name]);
    const started = await client.requestVm(creds(u), { auth_tenant: pool.name, conn_type: "rdp" });
    assert.match(started.requestId, /^req-/);
    assert.ok(started.token);
    assert.equal(started.warning, null);
    const seen: VmState[] = [];
    const done = await client.waitForVm(started.token, started.requestId, {
      intervalMs: 20,
      onUpdate: (state) => seen.push(state),
    });
    assert.equal(done.status, "completed");
    assert.match(done.server.ip ?? "", /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(done.server.status, "ACTIVE");
    assert.ok(done.steps.some((step) => step.name === "find_instance" && step.outcome === "ok"));
    assert.equal(seen.at(-1), done);
    for (const step of done.steps) assert.ok(step.outcome === "ok" || step.outcome === "skipped");
  });

  it("wrong password: the broker's code 6 message, in Russian when asked", async () => {
    const u = await makeUser(s, [pool.id]);
    const wrong = { ...creds(u), password: "not-it" };
    const en = await failure(client.requestVm(wrong));
    assert.equal(en.code, 6);
    assert.equal(en.message, "Invalid credentials. Please contact system administrator.");
    const ru = createBrokerClient({ baseUrl: s.brokerUrl, lang: "ru" });
    const err = await failure(ru.getProjects(wrong));
    assert.equal(err.code, 6);
    assert.equal(err.message, "Неправильные учётные данные. Обратитесь к системному администратору.");
  });

  it("a failed allocation throws its code and message with the steps", async () => {
    const own = await makePool(s);
    const u = await makeUser(s, [own.id]);
    s.sim.ctx.faults.errorBuilds = true;
    try {
      const started = await client.requestVm(creds(u));
      const err = await failure(client.waitForVm(started.token, started.requestId, { intervalMs: 20 }));
      assert.equal(err.code, 17, err.message);
      assert.match(err.message, /^Instance with id \S+ is in invalid state: ERROR\./);
      assert.equal(err.steps.at(-1)?.name, "wait_active");
      assert.equal(err.steps.at(-1)?.outcome, "failed");
    } finally {
      s.sim.ctx.faults.errorBuilds = false;
    }
  });

  it("a token the broker does not accept is code 24; an unreachable broker is code 0", async () => {
    const err = await failure(client.getVm("forged", "req-x"));
    assert.equal(err.code, 24);
    const gone = createBrokerClient({ baseUrl: "http://127.0.0.1:9/", unreachableMessage: "down" });
    const down = await failure(gone.getProjects({ user: "a", password: "b" }));
    assert.equal(down.code, 0);
    assert.equal(down.message, "down");
  });

  it("passes the 19 warning on and changes the password", async () => {
    s.sim.keystoneSettings.passwordExpiresDays = 2;
    let u: TestUser;
    try {
      u = await makeUser(s, [pool.id]);
    } finally {
      s.sim.keystoneSettings.passwordExpiresDays = 0;
    }
    const started = await client.requestVm(creds(u));
    assert.equal(started.warning?.code, 19);
    assert.match(started.warning?.message ?? "", /^Password expires in \d+ seconds/);
    const message = await client.changePassword({
      user: u.name,
      domain: u.domain,
      password: u.password,
      newPassword: "New-pass-42x",
    });
    assert.equal(message, `Password successfully changed for user '${u.name}'`);
    assert.deepEqual(await client.getProjects({ ...creds(u), password: "New-pass-42x" }), [pool.name]);
    const old = await failure(client.getProjects(creds(u)));
    assert.equal(old.code, 6);
  });

  it("tells how to connect for each connection type, with the broker's ports", () => {
    const rdp = connectionHints("rdp", "10.0.0.5");
    assert.equal(rdp[0].href, "rdp://full%20address=s:10.0.0.5");
    assert.ok(rdp.some((h) => h.text === "mstsc /v:10.0.0.5"));
    assert.equal(connectionHints(undefined, "10.0.0.5")[0].href, rdp[0].href);
    assert.deepEqual(
      connectionHints("ssh", "10.0.0.5", { user: "alice" }).map((h) => h.text),
      ["ssh alice@10.0.0.5", "ssh://alice@10.0.0.5"],
    );
    assert.equal(
      connectionHints("ssh", "10.0.0.5", { ports: { ssh: ["2222"] } })[0].text,
      "ssh -p 2222 10.0.0.5",
    );
    assert.equal(
      connectionHints("spice", "10.0.0.5", { ports: { spice: ["5900-5999"] } })[0].href,
      "spice://10.0.0.5:5900",
    );
    assert.equal(connectionHints("vnc", "fd00::5")[0].href, "vnc://[fd00::5]:5900");
    assert.deepEqual(connectionHints("web", "10.0.0.5"), []);
    assert.equal(formatDuration(12.4), "12 ms");
    assert.equal(formatDuration(1400), "1.4 s");
    assert.equal(formatDuration(125_000), "2 min 5 s");
    assert.equal(formatDuration(null), null);
  });
});
