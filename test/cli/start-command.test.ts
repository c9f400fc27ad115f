// The `rs-server` command (bin/rs-server.mjs): `start` takes every option of `npm start`,
// --version and help exit 0, misuse exits 2 with the usage line, and the banner of a start
// shows where things are (portal, CLI line, clouds.yaml) without printing any password.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parse } from "yaml";
import { freePort } from "../../src/store/embedded.ts";
import { healthy, root, spawnServer, stopLeftoverPostgres, until } from "../helpers/server-process.ts";

const work = mkdtempSync(join(tmpdir(), "rs-start-cmd-"));
// Open like /tmp itself: as root, a data directory under a 0700 one puts its database under
// /var/lib/rs-server/embedded (test/store/embedded-root.test.ts), which would outlive the test.
chmodSync(work, 0o755);
const dataDir = join(work, "data");
after(async () => {
  await stopLeftoverPostgres(dataDir);
  rmSync(work, { recursive: true, force: true });
});

const rsServer = (...args: string[]) =>
  spawnSync(process.execPath, ["bin/rs-server.mjs", ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });

test("--version prints the package's version; start --help lists every option of npm start", () => {
  const version = rsServer("--version");
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version);

  const help = rsServer("start", "--help");
  assert.equal(help.status, 0, help.stderr);
  const npmStartHelp = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "--help"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(npmStartHelp.status, 0, npmStartHelp.stderr);
  const options = (text: string) => [...text.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]).sort();
  for (const option of ["--config", "--data-dir", "--no-admin", "--no-broker", "--no-workers"])
    assert.ok(options(help.stdout).includes(option), `${option} missing from:\n${help.stdout}`);
  assert.deepEqual(
    options(help.stdout).filter((o) => o !== "--help"),
    options(npmStartHelp.stdout).filter((o) => o !== "--help" && o !== "--version"),
  );
});

test("misuse exits 2 with the usage line: unknown command, unknown option, extra argument, missing value", () => {
  for (const [args, usage] of [
    [["bogus"], "Usage: rs-server [options] [command]"],
    [["start", "--bogus"], "Usage: rs-server start [options]"],
    [["start", "extra"], "Usage: rs-server start [options]"],
    [["start", "--data-dir"], "Usage: rs-server start [options]"],
  ] as const) {
    const r = rsServer(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.includes(usage), `${args.join(" ")}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  }
});

test("rs-server start --config f.yaml --data-dir d --no-broker starts the admin API only", async () => {
  const admin = await freePort();
  const broker = await freePort();
  const configFile = join(work, "f.yaml");
  writeFileSync(configFile, `admin:\n  port: ${admin}\nbroker:\n  port: ${broker}\n`);
  const s = spawnServer({
    args: ["bin/rs-server.mjs", "start", "--config", configFile, "--data-dir", dataDir, "--no-broker"],
  });
  await healthy(s, admin);
  await until("the banner", async () => (/stop with Ctrl-C/.test(s.output()) ? true : undefined), s, 30_000);
  await assert.rejects(fetch(`http://127.0.0.1:${broker}/health`), "the broker answers despite --no-broker");
  assert.doesNotMatch(s.output(), /broker API/);
  s.child.kill("SIGTERM");
  assert.deepEqual(await s.exited, { code: 0, signal: null }, s.output());
});

test("the banner (rs-server with options only starts) shows the portal, the dashboard, a CLI line and clouds.yaml, no password", async () => {
  const admin = await freePort();
  const broker = await freePort();
  const portal = await freePort();
  const s = spawnServer({
    args: ["bin/rs-server.mjs", "--data-dir", dataDir],
    env: {
      RS_SERVER_ADMIN_PORT: String(admin),
      RS_SERVER_BROKER_PORT: String(broker),
      RS_SERVER_PORTAL_PORT: String(portal),
    },
  });
  await healthy(s, admin);
  await until("the banner", async () => (/stop with Ctrl-C/.test(s.output()) ? true : undefined), s, 30_000);
  const out = s.output();
  const cloudsYaml = join(dataDir, "clouds.yaml");
  assert.ok(out.includes(`user portal http://127.0.0.1:${broker}/portal/`), out);
  assert.ok(out.includes(`user portal http://127.0.0.1:${portal}/trs/`), out);
  assert.ok(out.includes(`dashboard   http://127.0.0.1:${admin}/dashboard/`), out);
  assert.ok(
    out.includes(`clouds.yaml (clouds rs-admin and rs-demo, with their passwords): ${cloudsYaml}`),
    out,
  );
  assert.ok(
    out.includes(
      `npm run cli -- pools list --os-cloud rs-admin --data-dir ${dataDir} --url http://127.0.0.1:${admin}`,
    ),
    out,
  );
  assert.ok(out.includes(`connection for psql and pg_dump in ${join(dataDir, "pg.env")}`), out);
  const clouds = parse(readFileSync(cloudsYaml, "utf8")) as {
    clouds: Record<string, { auth: { password: string } }>;
  };
  for (const name of ["rs-admin", "rs-demo"]) {
    const password = clouds.clouds[name].auth.password;
    assert.ok(password.length >= 8);
    assert.ok(!out.includes(password), `the banner prints the password of ${name}`);
  }
  s.child.kill("SIGTERM");
  assert.deepEqual(await s.exited, { code: 0, signal: null }, s.output());
});
