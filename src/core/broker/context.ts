// What every broker use case works with: the core's dependencies, Keystone authentication
// of the broker's users, and the rules they share (which TRS pools a user may use, Web Guard).
import type { Logger } from "pino";
import type { Pool } from "../../store/pools.ts";
import { BrokerAuth, type BrokerIdentity } from "../broker-auth.ts";
import { BrokerCode, BrokerError, orKeystoneUnavailable } from "../broker-error.ts";
import type { CoreDeps } from "../deps.ts";
import { webGuardViolation } from "../web-guard.ts";

export interface BrokerContext {
  deps: CoreDeps;
  auth: BrokerAuth;
  log: Logger;
}

export function brokerContext(deps: CoreDeps): BrokerContext {
  return {
    deps,
    auth: new BrokerAuth(deps.cloud.keystone, deps.config.passwords.expiryWarningSeconds),
    log: deps.logger.child({ component: "broker" }),
  };
}

/** Keystone calls of the service account outside authentication: an outage is 21. */
export const directory = orKeystoneUnavailable;

/** The TRS pools of the projects the user has a role on (enabled ones, in the domain if named). */
export async function trsPoolsOf(
  { deps }: BrokerContext,
  identity: BrokerIdentity,
  projectDomainName?: string,
): Promise<Pool[]> {
  const keystone = deps.cloud.keystone;
  const projects = await directory(() => keystone.listUserProjects(identity.userId));
  let enabled = projects.filter((p) => p.enabled);
  if (projectDomainName) {
    const domain = await directory(() => keystone.findDomainByName(projectDomainName));
    if (!domain) throw new BrokerError(BrokerCode.DomainNotFound, { domain_name: projectDomainName });
    enabled = enabled.filter((p) => p.domainId === domain.id);
  }
  return deps.repos.pools.list({ ids: enabled.map((p) => p.id) });
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
