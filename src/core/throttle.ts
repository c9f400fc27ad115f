// Failed authentications counted per client address and per user name, shared by every process
// through the database. Over a limit, the caller is refused (HTTP 429 with Retry-After) until
// the window that counted the failures ends, before anything is asked of Keystone: a password
// guesser gets a few tries per window, and a flood of garbage tokens costs no validations.
// Fixed windows: at a window's edge a key may see up to twice its limit, never more.

import type { ThrottleCount } from "../shared/types.ts";

export type { ThrottleCount };

export interface ThrottleStore {
  /** The counts of the keys whose window is still open. */
  counts(keys: string[], windowSeconds: number): Promise<ThrottleCount[]>;
  /** One more failure for each key (a new window for a key whose window ended). */
  add(keys: string[], windowSeconds: number): Promise<void>;
}

export interface ThrottleSettings {
  enabled: boolean;
  windowSeconds: number;
  loginFailuresPerAddress: number;
  loginFailuresPerUser: number;
  invalidTokensPerAddress: number;
}

/** One counted key and the failures it may have in a window. */
export interface Limit {
  key: string;
  limit: number;
}

export class Throttle {
  constructor(
    private readonly store: ThrottleStore,
    readonly settings: ThrottleSettings,
  ) {}

  /** The limits of a login (request-vm, get-projects, change-password) by this address and name. */
  loginLimits(address: string, user: string | undefined, domain: string | undefined): Limit[] {
    const limits = [{ key: `login-address:${address}`, limit: this.settings.loginFailuresPerAddress }];
    if (user)
      limits.push({
        key: `login-user:${(domain ?? "").toLowerCase()}/${user.toLowerCase()}`,
        limit: this.settings.loginFailuresPerUser,
      });
    return limits;
  }

  /** The limit of invalid tokens presented to the admin API from this address. */
  tokenLimits(address: string): Limit[] {
    return [{ key: `admin-token-address:${address}`, limit: this.settings.invalidTokensPerAddress }];
  }

  /** Seconds until the caller may try again, or undefined when no limit is reached. */
  async refusal(limits: Limit[]): Promise<number | undefined> {
    if (!this.settings.enabled || limits.length === 0) return undefined;
    const counts = await this.store.counts(
      limits.map((l) => l.key),
      this.settings.windowSeconds,
    );
    let wait: number | undefined;
    for (const c of counts) {
      const limit = limits.find((l) => l.key === c.key)?.limit ?? Number.POSITIVE_INFINITY;
      if (c.count >= limit) wait = Math.max(wait ?? 0, c.retryAfterSeconds);
    }
    return wait;
  }

  async failed(limits: Limit[]): Promise<void> {
    if (!this.settings.enabled) return;
    await this.store.add(
      limits.map((l) => l.key),
      this.settings.windowSeconds,
    );
  }
}
