// Validates a Keystone token into a Caller, through the bounded cache keyed by its hash.
import type { KeystoneClient, TokenInfo } from "../cloud/keystone.ts";
import { TokenCache } from "../cloud/token-cache.ts";
import type { Config } from "../config/schema.ts";
import type { Caller, TokenScope, TokenValidator } from "./identity.ts";

export function scopeOf(info: TokenInfo): TokenScope {
  if (info.system) return { kind: "system" };
  if (info.projectId)
    return {
      kind: "project",
      projectId: info.projectId,
      projectName: info.projectName ?? "",
      domainId: info.projectDomainId ?? "",
      domainName: info.projectDomainName ?? "",
    };
  if (info.domainId) return { kind: "domain", domainId: info.domainId };
  return { kind: "unscoped" };
}

export function callerFromToken(info: TokenInfo): Caller {
  return {
    userId: info.userId,
    userName: info.userName,
    domainId: info.userDomainId,
    projectId: info.projectId,
    projectName: info.projectName,
    scope: scopeOf(info),
    roles: info.roles.map((r) => r.name),
    expiresAt: info.expiresAt,
  };
}

export class KeystoneTokenValidator implements TokenValidator {
  private readonly cache: TokenCache<Caller>;

  constructor(
    private readonly keystone: Pick<KeystoneClient, "validateToken">,
    auth: Config["auth"],
  ) {
    this.cache = new TokenCache<Caller>({
      ttlMs: auth.tokenCacheSeconds * 1000,
      invalidTtlMs: auth.invalidTokenCacheSeconds * 1000,
      maxEntries: auth.tokenCacheSize,
    });
  }

  remember(token: string, caller: Caller): void {
    if (caller.expiresAt.getTime() > Date.now()) this.cache.set(token, caller);
  }

  validate(token: string, opts: { fresh?: boolean } = {}): Promise<Caller | undefined> {
    const load = async (t: string) => {
      const info = await this.keystone.validateToken(t);
      return info ? callerFromToken(info) : undefined;
    };
    return opts.fresh ? this.cache.refresh(token, load) : this.cache.get(token, load);
  }
}
