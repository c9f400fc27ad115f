// What every broker use case works with: the core's dependencies, Keystone authentication
// of the broker's users, and the rules they share (which TRS pools a user may use, Web Guard).
import type { Logger } from "pino";
import type { KsProject } from "../../cloud/keystone-types.ts";
import type { Pool } from "../../store/pools.ts";
import { BrokerAuth, type BrokerIdentity } from "../broker-auth.ts";
import { BrokerCode, BrokerError, orKeystoneUnavailable } from "../broker-error.ts";
import type { CoreDeps } from "../deps.ts";
import { webGuardViolation } from "../web-guard.ts";

export interface BrokerContext {
  deps: CoreDeps;
  auth: BrokerAuth;
  log: Logger;
  /** Keystone's answers about users, kept auth.userCacheSeconds. */
  users: UserDirectoryCache;
}

export function brokerContext(deps: CoreDeps): BrokerContext {
  const keystone = deps.cloud.keystone;
  return {
    deps,
    auth: new BrokerAuth(keystone, deps.config.passwords.expiryWarningSeconds),
    log: deps.logger.child({ component: "broker" }),
    users: new UserDirectoryCache(
      (userId) => keystone.listUserProjects(userId),
      async (userId) => (await keystone.listUserGroups(userId)).map((g) => g.id),
      deps.config.auth.userCacheSeconds * 1000,
    ),
  };
}

const MAX_CACHED_USERS = 10_000;

/**
 * A user's projects and groups as Keystone answered them, for `ttlMs` (0: not kept). Bounded:
 * the oldest answers go first. forget() drops what an access change here made stale.
 */
export class UserDirectoryCache {
  private readonly projectsOf = new Map<string, { until: number; value: Promise<KsProject[]> }>();
  private readonly groupsOf = new Map<string, { until: number; value: Promise<string[]> }>();

  constructor(
    private readonly loadProjects: (userId: string) => Promise<KsProject[]>,
    private readonly loadGroups: (userId: string) => Promise<string[]>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  projects(userId: string): Promise<KsProject[]> {
    return this.cached(this.projectsOf, userId, this.loadProjects);
  }

  groups(userId: string): Promise<string[]> {
    return this.cached(this.groupsOf, userId, this.loadGroups);
  }

  /** Forgets one user's answers, or everyone's. */
  forget(userId?: string): void {
    if (userId === undefined) {
      this.projectsOf.clear();
      this.groupsOf.clear();
    } else {
      this.projectsOf.delete(userId);
      this.groupsOf.delete(userId);
    }
  }

  private cached<T>(
    map: Map<string, { until: number; value: Promise<T> }>,
    userId: string,
    load: (userId: string) => Promise<T>,
  ): Promise<T> {
    if (this.ttlMs <= 0) return load(userId);
    const now = this.now();
    const hit = map.get(userId);
    if (hit && hit.until > now) return hit.value;
    const value = load(userId);
    map.delete(userId);
    map.set(userId, { until: now + this.ttlMs, value });
    // A failed answer is not kept: the next call asks again.
    value.catch(() => {
      if (map.get(userId)?.value === value) map.delete(userId);
    });
    while (map.size > MAX_CACHED_USERS) map.delete(map.keys().next().value as string);
    return value;
  }
}

/** Keystone calls of the service account outside authentication: an outage is 21. */
export const directory = orKeystoneUnavailable;

/** The TRS pools of the projects the user has a role on (enabled ones, in the domain if named). */
export async function trsPoolsOf(
  { deps, users }: BrokerContext,
  identity: BrokerIdentity,
  projectDomainName?: string,
): Promise<Pool[]> {
  const keystone = deps.cloud.keystone;
  const projects = await directory(() => users.projects(identity.userId));
  let enabled = projects.filter((p) => p.enabled);
  if (projectDomainName) {
    const domain = await directory(() => keystone.findDomainByName(projectDomainName));
    if (!domain) throw new BrokerError(BrokerCode.DomainNotFound, { domain_name: projectDomainName });
    enabled = enabled.filter((p) => p.domainId === domain.id);
  }
  return deps.repos.pools.byIds(enabled.map((p) => p.id));
}

export interface GuardedRequest {
  connType?: string;
  client?: string;
  /** The address the HTTP request came from (Web Guard, when ip_address is not given). */
  peerIp?: string;
}

/** Web Guard (webGuard.rules): a request that matches no rule is code 26. */
export function guard({ deps }: BrokerContext, input: GuardedRequest, domainName: string): void {
  if (!deps.config.webGuard.enabled) return;
  const why = webGuardViolation(deps.config.webGuard.rules, {
    domainName,
    // The address the request really came from (through trusted proxies only): the body's
    // ip_address is the client's own word, for its firewall rules, not proof of its network.
    clientIp: input.peerIp,
    connType: input.connType,
    client: input.client,
  });
  if (why) throw new BrokerError(BrokerCode.WebGuardRefused, {}, why);
}
