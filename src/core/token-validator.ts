// Validates a Keystone token into a Caller, through the bounded cache keyed by its hash.
import type { KeystoneClient, TokenInfo } from "../cloud/keystone.ts";
import { TokenCache } from "../cloud/token-cache.ts";
import type { Config } from "../config/schema.ts";
import type { Caller, TokenValidator } from "./identity.ts";

export function callerFromToken(info: TokenInfo): Caller {
  return {
    userId: info.userId,
    userName: info.userName,
    domainId: info.userDomainId,
    projectId: info.projectId,
    projectName: info.projectName,
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

  validate(token: string): Promise<Caller | undefined> {
    return this.cache.get(token, async (t) => {
      const info = await this.keystone.validateToken(t);
      return info ? callerFromToken(info) : undefined;
    });
  }
}
