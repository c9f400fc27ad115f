import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, envName, loadConfig } from "../../src/config/load.ts";

test("defaults give the documented ports and the embedded data directory", () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.admin.port, 9364);
  assert.equal(c.broker.port, 9365);
  assert.equal(c.dataDir, "./.data");
  assert.equal(c.database.url, "");
  assert.deepEqual(c.auth.adminRoles, ["admin"]);
});

test("environment names follow the option path", () => {
  assert.equal(envName(["dataDir"]), "RS_SERVER_DATA_DIR");
  assert.equal(envName(["database", "url"]), "RS_SERVER_DATABASE_URL");
});

test("file values are overridden by the environment", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-cfg-"));
  const file = join(dir, "rs.yaml");
  writeFileSync(
    file,
    "admin:\n  port: 1000\nbroker:\n  enabled: false\npools:\n  instanceNamePattern: vdi-***\n",
  );
  const c = loadConfig({
    file,
    env: { RS_SERVER_ADMIN_PORT: "2000", RS_SERVER_AUTH_ADMIN_ROLES: "admin,ops" },
  });
  assert.equal(c.admin.port, 2000);
  assert.equal(c.broker.enabled, false);
  assert.equal(c.pools.instanceNamePattern, "vdi-***");
  assert.deepEqual(c.auth.adminRoles, ["admin", "ops"]);
});

test("an invalid value is refused with the option named", () => {
  assert.throws(
    () => loadConfig({ env: { RS_SERVER_ADMIN_PORT: "70000" } }),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /admin\/port/);
      return true;
    },
  );
});
