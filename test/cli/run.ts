// Runs the operator CLI as a child process, as an operator would, and checks its outcome.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import type { Stack } from "../helpers/stack.ts";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const root = new URL("../..", import.meta.url).pathname;

/** The environment without the caller's OS_* and RS_SERVER_* variables. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("OS_") && !k.startsWith("RS_SERVER_")),
  );
}

/** The environment of an operator who exported the simulator admin's OS_* variables. */
export function adminEnv(stack: Stack): NodeJS.ProcessEnv {
  const a = stack.sim.admin;
  return {
    ...cleanEnv(),
    RS_SERVER_URL: stack.adminUrl,
    OS_AUTH_URL: a.authUrl,
    OS_USERNAME: a.username,
    OS_PASSWORD: a.password,
    OS_PROJECT_NAME: a.projectName,
    OS_USER_DOMAIN_NAME: a.userDomainName,
    OS_PROJECT_DOMAIN_NAME: a.projectDomainName,
  };
}

/** `rs-server <args>` from the repository root; stdout and stderr are pipes (no terminal). */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/index.ts", ...args],
      { cwd: root, env },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export function ok(run: Run): string {
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

export const json = (run: Run) => JSON.parse(ok(run));

/** Asserts an expected failure: its exit code and one line on stderr, no stack trace. */
export function failed(run: Run, code: number, message: RegExp) {
  assert.equal(run.code, code, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
  assert.equal(run.stdout, "");
}
