// Who is calling: a Keystone token validated (through the token cache) into a Caller.
export interface Caller {
  userId: string;
  userName: string;
  domainId: string;
  projectId?: string;
  projectName?: string;
  roles: string[];
  expiresAt: Date;
}

export interface TokenValidator {
  /** The caller, or undefined when Keystone says the token is invalid or expired. */
  validate(token: string): Promise<Caller | undefined>;
}

export function hasAnyRole(caller: Caller, roles: readonly string[]): boolean {
  return caller.roles.some((r) => roles.includes(r));
}
