// Who is calling: a Keystone token validated (through the token cache) into a Caller.
export interface Caller {
  userId: string;
  userName: string;
  /** The user's own domain (not the token's scope: see `scope`). */
  domainId: string;
  projectId?: string;
  projectName?: string;
  /** What the token is scoped to, and so what its roles are held on. */
  scope: TokenScope;
  roles: string[];
  expiresAt: Date;
}

/** A Keystone token's scope: the system, one project, one domain, or none. */
export type TokenScope =
  | { kind: "system" }
  | { kind: "project"; projectId: string; projectName: string; domainId: string; domainName: string }
  | { kind: "domain"; domainId: string }
  | { kind: "unscoped" };

export interface TokenValidator {
  /**
   * The caller, or undefined when Keystone says the token is invalid or expired. Through the
   * cache unless `fresh` (a change: a token revoked in Keystone must not make it).
   */
  validate(token: string, opts?: { fresh?: boolean }): Promise<Caller | undefined>;
  /**
   * A token Keystone has just issued or validated for us (request-vm), so that the client's
   * first calls with it (get-vm) need no validation of their own.
   */
  remember?(token: string, caller: Caller): void;
}

export function hasAnyRole(caller: Caller, roles: readonly string[]): boolean {
  return caller.roles.some((r) => roles.includes(r));
}
