// The portal server (config `portal`, :8888 by default): the original platform's address of the
// user web page, /trs/, with the broker API the page calls on the same origin; / redirects to
// it there and on the broker (to /portal/); it can be switched off, and it runs with the broker.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, finished, login, makeInstances, makePool, makeUser } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("portal server", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ admin: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });
  const portalUrl = () => {
    assert.ok(s.runtime.portalUrl, "the portal server runs");
    return s.runtime.portalUrl;
  };

  it("listens on its own port, apart from the broker", () => {
    assert.notEqual(new URL(portalUrl()).port, new URL(s.brokerUrl).port);
  });

  it("serves the portal at /trs/, the same files as the broker's /portal/, with the same headers", async () => {
    for (const file of ["", "app.js", "portal.css", "broker-client.js", "config.json", "novnc/core/rfb.js"]) {
      const here = await fetch(`${portalUrl()}/trs/${file}`);
      const there = await fetch(`${s.brokerUrl}/portal/${file}`);
      assert.equal(here.status, 200, file);
      assert.equal(await here.text(), await there.text(), file);
      for (const h of ["content-type", "content-security-policy", "x-frame-options", "etag"])
        assert.equal(here.headers.get(h), there.headers.get(h), `${file}: ${h}`);
    }
    assert.equal((await fetch(`${portalUrl()}/trs/no-such-file.js`)).status, 404);
    assert.equal((await fetch(`${portalUrl()}/trs/..%2fpackage.json`)).status, 404);
  });

  it("redirects /trs and / to /trs/ (relatively), and the broker's / to /portal/", async () => {
    for (const [base, path, target] of [
      [portalUrl(), "/trs", "/trs/"],
      [portalUrl(), "/", "/trs/"],
      [s.brokerUrl, "/", "/portal/"],
    ] as const) {
      const res = await fetch(`${base}${path}`, { redirect: "manual" });
      assert.equal(res.status, 302, `${base}${path}`);
      assert.doesNotMatch(res.headers.get("location")!, /^(https?:)?\/\//, "a relative redirect");
      assert.equal(new URL(res.headers.get("location")!, `${base}${path}`).pathname, target);
    }
  });

  it("answers the broker API on its own origin, where the page at /trs/ calls it (../v1/)", async () => {
    // The page computes its API base as new URL("../", location): /trs/ → /.
    const base = new URL("../", `${portalUrl()}/trs/`).href;
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
    const user = await makeUser(s, [pool.id]);
    const accepted = await call(base.replace(/\/$/, ""), "POST", "/v1/request-vm/", {
      body: login(user, { client: "RS web portal 1.0" }),
    });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const token = accepted.headers.get("x-auth-token");
    assert.ok(token);
    const done = await finished({ ...s, brokerUrl: portalUrl() }, token, accepted.body.request_id);
    assert.equal(done.body.status, "completed", JSON.stringify(done.body));
    const bad = await call(portalUrl(), "POST", "/v1/get-vm/", { body: {} });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 9, "the broker's own error envelope");
  });
});

describe("portal server switched off", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      admin: { enabled: false },
      portal: { enabled: false },
      broker: { portal: false },
    });
  });
  after(async () => {
    await s?.stop();
  });

  it("portal.enabled false: no third server; broker.portal false: the broker's / stays a 404", async () => {
    assert.equal(s.runtime.portalUrl, undefined);
    assert.equal(s.runtime.portal, undefined);
    const root = await fetch(`${s.brokerUrl}/`, { redirect: "manual" });
    assert.equal(root.status, 404);
  });
});

describe("portal server without the broker", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ broker: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });

  it("runs only with the broker (--no-broker stops it too)", () => {
    assert.equal(s.runtime.portalUrl, undefined);
  });
});

describe("portal server and the login throttle", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      admin: { enabled: false },
      rateLimit: { enabled: true, windowSeconds: 600, loginFailuresPerUser: 3, loginFailuresPerAddress: 100 },
    });
  });
  after(async () => {
    await s?.stop();
  });

  it("counts failed logins on /v1/ of both front doors together (no way around the limit)", async () => {
    const pool = await makePool(s);
    const user = await makeUser(s, [pool.id]);
    const wrong = login(user, { password: "not-the-password" });
    const portal = s.runtime.portalUrl!;
    const answers = [];
    for (const base of [s.brokerUrl, portal, s.brokerUrl, portal]) {
      answers.push(await call(base, "POST", "/v1/request-vm/", { body: wrong }));
    }
    assert.deepEqual(
      answers.map((a) => a.status),
      [400, 400, 400, 429],
      "the fourth failure, on the portal server, is over the user's limit of 3",
    );
    assert.equal(answers[3]!.body.error.code, 28);
  });
});
