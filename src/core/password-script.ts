// The operator's password-change script as the core sees it (a port): it changes a user's
// password or says why not. src/adapters/kerberos-script.ts runs it.

export interface PasswordChange {
  user: string;
  userDomainName: string;
  password: string;
  newPassword: string;
}

export type PasswordScriptOutcome =
  | { kind: "changed" }
  /** The script cannot be run (missing, not executable): broker code 22. */
  | { kind: "unavailable"; detail: string }
  /** The script ran and refused (non-zero exit): broker code 23. */
  | { kind: "failed"; detail: string };

export interface PasswordScript {
  /** Runs the script at `scriptPath` (kerberos.scriptPath, read at each change). */
  change(scriptPath: string, c: PasswordChange): Promise<PasswordScriptOutcome>;
}
