// The simulator keeps its port (so Keystone's URL, clouds.yaml and an exported OS_AUTH_URL)
// across restarts on the same data directory, and moves, saying so, only when it is taken.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { startSimulator } from "../../src/simulator/server.ts";

const dataDir = mkdtempSync(join(tmpdir(), "rs-sim-port-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const token = async (authUrl: string, password: string) => {
  const res = await fetch(`${authUrl}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name: "admin", domain: { name: "Default" }, password } },
        },
      },
    }),
  });
  return res.status;
};

test("a restart on the same data directory listens on the same port, and a taken port moves it", async () => {
  const first = await startSimulator({ dataDir });
  const { authUrl, url } = first;
  const password = first.admin.password;
  await first.stop();

  const second = await startSimulator({ dataDir });
  try {
    assert.equal(second.authUrl, authUrl);
    assert.equal(second.portMoved, undefined);
    assert.equal(await token(authUrl, password), 201, "the old OS_AUTH_URL works after the restart");
  } finally {
    await second.stop();
  }

  // Someone else holds the port now: the simulator comes up elsewhere and says where.
  const squatter = createServer();
  const port = Number(new URL(url).port);
  await new Promise<void>((ok) => squatter.listen(port, "127.0.0.1", ok));
  try {
    const third = await startSimulator({ dataDir });
    try {
      assert.notEqual(third.url, url);
      assert.deepEqual(third.portMoved, { from: port, to: Number(new URL(third.url).port) });
      assert.equal(await token(third.authUrl, password), 201);
    } finally {
      await third.stop();
    }
  } finally {
    await new Promise((ok) => squatter.close(ok));
  }
});
