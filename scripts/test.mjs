#!/usr/bin/env node
// `npm test`: starts one embedded PostgreSQL for the whole run (unless RS_TEST_DATABASE_URL
// names an external one), then runs every test file with node's test runner through tsx.
// Each test file makes its own database on that server, so files never share state.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

const files = args.length > 0 ? args : findTests(join(root, "test")).sort();
let embedded;
let dataDir;
const env = { ...process.env };
if (!env.RS_TEST_DATABASE_URL) {
  dataDir = mkdtempSync(join(tmpdir(), "rs-server-test-"));
  const { startEmbeddedPostgres } = await import("../src/store/embedded.ts").catch(async () => {
    // plain node cannot import .ts: go through tsx's loader API
    const { tsImport } = await import("tsx/esm/api");
    return tsImport("../src/store/embedded.ts", import.meta.url);
  });
  try {
    embedded = await startEmbeddedPostgres(dataDir);
  } catch (err) {
    // One line that says what to do (src/store/embedded.ts words it), never a stack trace.
    process.stderr.write(`npm test: cannot start the embedded PostgreSQL: ${err?.message ?? err}\n`);
    process.stderr.write("  (or point RS_TEST_DATABASE_URL at a PostgreSQL of your own)\n");
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(1);
  }
  env.RS_TEST_DATABASE_URL = embedded.url("postgres");
}

const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=2",
    "--test-reporter=spec",
    // A test stuck on a wait that never ends fails after 10 minutes, and a file whose tests are
    // done exits even if something it started still holds a timer or a socket: a broken test
    // fails the run instead of hanging CI.
    "--test-timeout=600000",
    "--test-force-exit",
    ...files,
  ],
  { cwd: root, env, stdio: "inherit" },
);
const code = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));
if (embedded) await embedded.stop();
if (dataDir) rmSync(dataDir, { recursive: true, force: true });
process.exit(code);
