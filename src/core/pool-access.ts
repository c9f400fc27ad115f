// Access to a pool: the Keystone role (pools.accessRole) a user needs on the pool's project
// for the broker to let them use it. The broker admits a user who holds any role on the
// project, directly or through a group (core/broker/context.ts, trsPoolsOf); an assignment in
// rs-server alone is not enough (the user then gets broker code 5). These operations grant
// and revoke that one role, so an operator needs no `openstack role add`.
// API (admin routes):
//   holders(projectId) → who holds the role on the project directly (users and groups)
//   grant(projectId, actor, by, within?) / revoke(...): idempotent; 404 for an unknown pool,
//   user or group; with `within` (a domain admin's domain) a user or group of another domain
//   is refused, as Keystone's own grant policy refuses a domain admin (both ends in its domain)
import type { Logger } from "pino";
import { isCloudError } from "../cloud/http.ts";
import type { Actor, KeystoneClient } from "../cloud/keystone.ts";
import type { PoolRepository } from "../store/pools.ts";
import { forbidden, notFound, unavailable } from "./errors.ts";

export interface AccessHolder {
  id: string;
  name: string;
  domain_id: string;
}

export interface PoolAccessDeps {
  keystone: Pick<
    KeystoneClient,
    "findRole" | "grantProjectRole" | "revokeProjectRole" | "listRoleAssignments" | "getUser" | "getGroup"
  >;
  pools: Pick<PoolRepository, "get">;
  /** The Keystone role granted (config pools.accessRole). */
  role: string;
  logger: Logger;
  /** Told after each grant or revoke (the broker forgets what it kept of the user's projects). */
  onChanged?: (actor: Actor) => void;
}

const describe = (actor: Actor) => ("userId" in actor ? `User ${actor.userId}` : `Group ${actor.groupId}`);

export class PoolAccessService {
  private roleId?: Promise<string>;

  constructor(private readonly deps: PoolAccessDeps) {}

  async holders(projectId: string): Promise<{ users: AccessHolder[]; groups: AccessHolder[] }> {
    await this.pool(projectId);
    const rows = await this.deps.keystone.listRoleAssignments({
      projectId,
      roleId: await this.role(),
      includeNames: true,
    });
    const users: AccessHolder[] = [];
    const groups: AccessHolder[] = [];
    for (const r of rows) {
      if (r.userId) users.push({ id: r.userId, name: r.userName ?? "", domain_id: r.userDomainId ?? "" });
      else if (r.groupId)
        groups.push({ id: r.groupId, name: r.groupName ?? "", domain_id: r.groupDomainId ?? "" });
    }
    const byName = (a: AccessHolder, b: AccessHolder) => a.name.localeCompare(b.name);
    return { users: users.sort(byName), groups: groups.sort(byName) };
  }

  async grant(projectId: string, actor: Actor, by: string | null, within?: string): Promise<void> {
    await this.pool(projectId);
    await this.exists(actor, within);
    const roleId = await this.role();
    await this.deps.keystone.grantProjectRole(projectId, actor, roleId);
    this.deps.onChanged?.(actor);
    this.deps.logger.info(
      { project_id: projectId, ...actorLog(actor), role: this.deps.role, by },
      "pool access granted",
    );
  }

  async revoke(projectId: string, actor: Actor, by: string | null, within?: string): Promise<void> {
    await this.pool(projectId);
    await this.exists(actor, within);
    const roleId = await this.role();
    try {
      await this.deps.keystone.revokeProjectRole(projectId, actor, roleId);
      this.deps.onChanged?.(actor);
    } catch (err) {
      // Not granted (any more): revoking twice is revoking once.
      if (!isCloudError(err, "not_found")) throw err;
      return;
    }
    this.deps.logger.info(
      { project_id: projectId, ...actorLog(actor), role: this.deps.role, by },
      "pool access revoked",
    );
  }

  private async pool(projectId: string) {
    const pool = await this.deps.pools.get(projectId);
    if (!pool) throw notFound(`TRS project ${projectId} not found`);
    return pool;
  }

  private async exists(actor: Actor, within?: string) {
    let domainId: string;
    try {
      domainId =
        "userId" in actor
          ? (await this.deps.keystone.getUser(actor.userId)).domainId
          : (await this.deps.keystone.getGroup(actor.groupId)).domainId;
    } catch (err) {
      if (isCloudError(err, "not_found")) throw notFound(`${describe(actor)} not found`);
      throw err;
    }
    if (within !== undefined && domainId !== within)
      throw forbidden(
        `${describe(actor)} is not of your domain: a domain admin grants access to its own users and groups.`,
      );
  }

  /** The role's id, looked up once; a missing role is the operator's to fix, said plainly. */
  private role(): Promise<string> {
    if (!this.roleId) {
      const name = this.deps.role;
      this.roleId = this.deps.keystone.findRole(name).then((role) => {
        if (!role)
          throw unavailable(
            `Keystone has no role named ${name} to grant access to pools (set pools.accessRole)`,
          );
        return role.id;
      });
      this.roleId.catch(() => {
        this.roleId = undefined;
      });
    }
    return this.roleId;
  }
}

function actorLog(actor: Actor) {
  return "userId" in actor ? { user_id: actor.userId } : { group_id: actor.groupId };
}
