// A bounded cache of token validation results, keyed by the token's SHA-256 so that no token
// sits in memory longer than its request. A valid result lives for the configured TTL but
// never past the token's own expiry; an invalid one for a short while (a bad token retried in
// a loop costs Keystone one call per period).
import { createHash } from "node:crypto";

export interface TokenCacheOptions {
  /** How long a valid result is kept, in ms (capped by the token's expiry). 0 disables caching. */
  ttlMs: number;
  /** How long an invalid result is kept, in ms. 0 never caches invalid tokens. */
  invalidTtlMs: number;
  /** Most entries; the least recently used go first. */
  maxEntries: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface Entry<T> {
  value: T | undefined;
  until: number;
}

export const tokenKey = (token: string) => createHash("sha256").update(token).digest("hex");

export class TokenCache<T extends { expiresAt: Date }> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly loading = new Map<string, Promise<T | undefined>>();
  private readonly now: () => number;

  constructor(readonly options: TokenCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get size() {
    return this.entries.size;
  }

  /** `{ value }` on a hit (value undefined: known invalid), undefined on a miss. */
  lookup(token: string): { value: T | undefined } | undefined {
    const key = tokenKey(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert: Map order is the recency order the eviction reads.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return { value: entry.value };
  }

  set(token: string, value: T | undefined) {
    const now = this.now();
    const until = value
      ? Math.min(now + this.options.ttlMs, value.expiresAt.getTime())
      : now + this.options.invalidTtlMs;
    const key = tokenKey(token);
    this.entries.delete(key);
    if (until <= now) return;
    this.entries.set(key, { value, until });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** The cached result, or the loader's (one load per token at a time), cached. */
  async get(token: string, load: (token: string) => Promise<T | undefined>): Promise<T | undefined> {
    const hit = this.lookup(token);
    if (hit) return hit.value;
    const key = tokenKey(token);
    let pending = this.loading.get(key);
    if (!pending) {
      pending = load(token)
        .then((value) => {
          // A result that is already expired is an invalid token.
          const usable = value && value.expiresAt.getTime() > this.now() ? value : undefined;
          this.set(token, usable);
          return usable;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  /**
   * The loader's answer whatever the cache holds (a change must not ride on a validation made
   * before the token was revoked), cached for the reads that follow.
   */
  async refresh(token: string, load: (token: string) => Promise<T | undefined>): Promise<T | undefined> {
    const value = await load(token);
    const usable = value && value.expiresAt.getTime() > this.now() ? value : undefined;
    this.set(token, usable);
    return usable;
  }

  /** Forgets a token (e.g. after revoking it). */
  delete(token: string) {
    this.entries.delete(tokenKey(token));
  }

  clear() {
    this.entries.clear();
  }
}
