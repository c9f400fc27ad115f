// Password change through the operator's Kerberos script (kerberos.scriptPath). The secrets
// go to the script's standard input only — never its command line (visible in ps) nor its
// environment (visible in /proc) — as four lines: user name, user domain name, current
// password, new password. Exit status 0 means changed; anything else is a refusal (the
// core answers code 23); a script that cannot be run is code 22.
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import type { PasswordChange, PasswordScript, PasswordScriptOutcome } from "../core/password-script.ts";

/** A script that hangs must not hold the request forever. */
const SCRIPT_TIMEOUT_MS = 30_000;

export class KerberosScript implements PasswordScript {
  change(scriptPath: string, c: PasswordChange): Promise<PasswordScriptOutcome> {
    return changePasswordWithScript(scriptPath, c);
  }
}

async function changePasswordWithScript(
  scriptPath: string,
  c: PasswordChange,
): Promise<PasswordScriptOutcome> {
  try {
    const s = await stat(scriptPath);
    if (!s.isFile()) throw new Error("not a file");
    await access(scriptPath, constants.X_OK);
  } catch (err) {
    return { kind: "unavailable", detail: `kerberos script ${scriptPath}: ${(err as Error).message}` };
  }
  const code = await new Promise<number | string>((resolve) => {
    // A minimal environment: nothing of ours (database URL, service password) leaks to it.
    const child = spawn(scriptPath, [], {
      stdio: ["pipe", "ignore", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" },
      timeout: SCRIPT_TIMEOUT_MS,
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      if (stderr.length < 2000) stderr += d;
    });
    child.on("error", (err) => resolve((err as NodeJS.ErrnoException).code ?? "error"));
    child.on("close", (status, signal) => resolve(status ?? signal ?? "killed"));
    // The script may exit without reading its input: that is its answer, not our error.
    child.stdin.on("error", () => {});
    child.stdin.end(`${c.user}\n${c.userDomainName}\n${c.password}\n${c.newPassword}\n`);
  });
  if (code === "ENOENT" || code === "EACCES") {
    return { kind: "unavailable", detail: `kerberos script ${scriptPath} cannot be run (${code})` };
  }
  if (code !== 0) return { kind: "failed", detail: `kerberos script exited with ${code}` };
  return { kind: "changed" };
}
