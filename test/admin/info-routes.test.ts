import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LicenseService } from "../../src/adapters/license-file.ts";
import { generateKeyPair, signLicense } from "../../src/cli/license.ts";
import { adminApp, assertAdminOnly } from "./admin-app.ts";

const dir = mkdtempSync(join(tmpdir(), "rs-info-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const admin = { "x-auth-token": "admin-token" };

test("GET /v1/info without a license: version and license null", async () => {
  const app = await adminApp(
    { license: new LicenseService({ file: "", publicKey: "", enforce: true }) },
    "1.2.3",
  );
  const res = await app.inject({ url: "/v1/info", headers: admin });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { info: { version: "1.2.3", license: null } });
  await app.close();
});

test("GET /v1/info shows the license with verified", async () => {
  const keys = generateKeyPair();
  const fields = {
    created_at: 1538141220,
    expire_at: 4102444800,
    module_package: "rs_server",
    name: "Laboratoria",
    product: "RSserver",
    surrogate_name: "RSserver",
    unique_id: "07-002-decf3c6c893561752802",
  };
  const file = join(dir, "license.json");
  writeFileSync(file, JSON.stringify(signLicense(fields, keys.privateKey)));
  const app = await adminApp({
    license: new LicenseService({ file, publicKey: keys.publicKey, enforce: true }),
  });
  const res = await app.inject({ url: "/v1/info/", headers: admin });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {
    info: { version: "9.8.7", license: { ...fields, verified: true, expired: false } },
  });

  writeFileSync(join(dir, "bad.json"), "garbage");
  const bad = await adminApp({
    license: new LicenseService({ file: join(dir, "bad.json"), publicKey: keys.publicKey, enforce: true }),
  });
  const shown = (await bad.inject({ url: "/v1/info", headers: admin })).json().info.license;
  assert.equal(shown.verified, false);
  assert.match(shown.error, /not valid JSON/);
  await app.close();
  await bad.close();
});

test("GET /v1/info requires the admin role", async () => {
  const app = await adminApp({ license: new LicenseService({ file: "", publicKey: "", enforce: true }) });
  await assertAdminOnly(app, "/v1/info");
  await app.close();
});
