import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { canonicalJson, type LicenseFields, LicenseService } from "../../src/adapters/license-file.ts";
import { generateKeyPair, licenseCommand, signLicense } from "../../src/cli/license.ts";

const dir = mkdtempSync(join(tmpdir(), "rs-license-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const vendor = generateKeyPair();
const stranger = generateKeyPair();
const NOW = new Date("2026-06-01T00:00:00Z");
const at = (iso: string) => Math.floor(Date.parse(iso) / 1000);

const fields: LicenseFields = {
  created_at: at("2026-01-01T00:00:00Z"),
  expire_at: at("2027-01-01T00:00:00Z"),
  module_package: "rs_server",
  name: "Laboratoria",
  product: "RSserver",
  surrogate_name: "RSserver",
  unique_id: "07-002-decf3c6c893561752802",
};

let n = 0;
function file(content: string): string {
  const path = join(dir, `license-${n++}.json`);
  writeFileSync(path, content);
  return path;
}

function service(path: string, publicKey = vendor.publicKey, enforce = true) {
  return new LicenseService({ file: path, publicKey, enforce }, { now: () => NOW });
}

test("no license file configured: null, nothing enforced", async () => {
  const s = service("");
  assert.equal(await s.current(), null);
  assert.equal(await s.valid(), false);
  assert.equal(await s.allowsService(), true);
});

test("a license signed by the vendor's key is verified and valid", async () => {
  const s = service(file(JSON.stringify(signLicense(fields, vendor.privateKey))));
  assert.deepEqual(await s.current(), { ...fields, verified: true, expired: false });
  assert.equal(await s.valid(), true);
  assert.equal(await s.allowsService(), true);
});

test("the signature covers the canonical JSON: key order in the file does not matter", async () => {
  const signed = signLicense(fields, vendor.privateKey);
  const reordered = Object.fromEntries(Object.entries(fields).reverse());
  const s = service(file(JSON.stringify({ signature: signed.signature, license: reordered })));
  assert.equal((await s.current())?.verified, true);
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
});

test("a tampered license is not verified", async () => {
  const signed = signLicense(fields, vendor.privateKey);
  const tampered = { ...signed, license: { ...signed.license, expire_at: at("2099-01-01T00:00:00Z") } };
  const s = service(file(JSON.stringify(tampered)));
  const license = await s.current();
  assert.equal(license?.verified, false);
  assert.equal(license?.error, "signature does not match");
  assert.equal(license?.name, "Laboratoria");
  assert.equal(await s.valid(), false);
  assert.equal(await s.allowsService(), false);
});

test("an expired license is verified but not valid", async () => {
  const expired = signLicense({ ...fields, expire_at: at("2026-05-31T23:59:59Z") }, vendor.privateKey);
  const s = service(file(JSON.stringify(expired)));
  const license = await s.current();
  assert.equal(license?.verified, true);
  assert.equal(license?.expired, true);
  assert.equal(await s.valid(), false);
  assert.equal(await s.allowsService(), false);
});

test("a license signed by another key is not verified", async () => {
  const s = service(file(JSON.stringify(signLicense(fields, stranger.privateKey))));
  assert.equal((await s.current())?.verified, false);
  assert.equal(await s.valid(), false);
});

test("garbage, a wrong shape, an unreadable file or a bad key: not verified, no crash", async () => {
  const cases: [string, LicenseService, RegExp][] = [
    ["garbage", service(file("\u0000not json{")), /not valid JSON/],
    ["no license object", service(file('{"signature": "abc"}')), /no license object/],
    ["no signature", service(file(JSON.stringify({ license: fields }))), /no signature/],
    ["bad base64", service(file(JSON.stringify({ license: fields, signature: "!!" }))), /does not match/],
    ["missing file", service(join(dir, "absent.json")), /cannot be read \(ENOENT\)/],
    ["a directory", service(dir), /cannot be read/],
    [
      "no key",
      service(file(JSON.stringify(signLicense(fields, vendor.privateKey))), ""),
      /no license public key/,
    ],
    [
      "bad key",
      service(file(JSON.stringify(signLicense(fields, vendor.privateKey))), "-----BEGIN x"),
      /not a valid/,
    ],
  ];
  for (const [what, s, error] of cases) {
    const license = await s.current();
    assert.equal(license?.verified, false, what);
    assert.match(license?.error ?? "", error, what);
    assert.equal(await s.allowsService(), false, what);
  }
});

test("enforcement off: an invalid license is shown but does not refuse service", async () => {
  const s = service(file("garbage"), vendor.publicKey, false);
  assert.equal((await s.current())?.verified, false);
  assert.equal(await s.allowsService(), true);
});

test("the public key may be the path of a PEM file", async () => {
  const keyPath = join(dir, "vendor.pub.pem");
  writeFileSync(keyPath, vendor.publicKey);
  const s = service(file(JSON.stringify(signLicense(fields, vendor.privateKey))), keyPath);
  assert.equal(await s.valid(), true);
});

test("a new license dropped in place is picked up without a restart", async () => {
  const path = join(dir, "live.json");
  writeFileSync(
    path,
    JSON.stringify(signLicense({ ...fields, expire_at: at("2026-02-01T00:00:00Z") }, vendor.privateKey)),
  );
  const s = service(path);
  assert.equal(await s.valid(), false);
  const next = `${path}.new`;
  writeFileSync(next, JSON.stringify(signLicense({ ...fields, name: "Renewed" }, vendor.privateKey)));
  renameSync(next, path);
  assert.equal(await s.valid(), true);
  assert.equal((await s.current())?.name, "Renewed");
});

test("CLI: keygen, sign and verify round-trip", async () => {
  let out = "";
  const sink = {
    write(text: string) {
      out += text;
    },
  };
  await licenseCommand(sink).parseAsync(["keygen"], { from: "user" });
  const privateKey = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(out)?.[0];
  const publicKey = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----\n/.exec(out)?.[0];
  assert.ok(privateKey && publicKey, out);
  const keyPath = join(dir, "cli.pem");
  writeFileSync(keyPath, privateKey);

  out = "";
  await licenseCommand(sink).parseAsync(
    ["sign", "--key", keyPath, "--name", "ACME", "--expire-at", "2099-01-01", "--unique-id", "u-1"],
    { from: "user" },
  );
  const issued = JSON.parse(out);
  assert.equal(issued.license.name, "ACME");
  assert.equal(issued.license.expire_at, at("2099-01-01T00:00:00Z"));
  assert.equal(issued.license.product, "RSserver");
  assert.equal(issued.license.module_package, "rs_server");
  const licensePath = file(out);

  const s = service(licensePath, publicKey);
  assert.equal(await s.valid(), true);
  assert.equal(JSON.parse(readFileSync(licensePath, "utf8")).license.unique_id, "u-1");

  const pubPath = join(dir, "cli.pub.pem");
  writeFileSync(pubPath, publicKey);
  out = "";
  await licenseCommand(sink).parseAsync(["verify", licensePath, "--public-key", pubPath], { from: "user" });
  assert.equal(JSON.parse(out).verified, true);
});
