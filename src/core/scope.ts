// Who is an rs-server admin, and of what: Keystone's scoped roles read as Keystone's own
// default policies read them (oslo.policy in Zed with enforce_scope). The admin role is held
// on the token's scope, so what it grants depends on that scope:
//   cloud_admin  (auth.scope.cloudAdmin) the admin role on a system-scoped token or on a token
//                of the admin project: every route, every pool
//                oslo: role:admin and (system_scope:all or is_admin_project:True)
//   domain_admin (auth.scope.domainAdmin) the admin role on a domain-scoped token: the pools
//                (TRS projects) of that domain, and nothing cloud-wide
//                oslo: role:admin and domain_id:%(target.domain_id)s
//   pool_project_admin (auth.scope.poolProjectAdmin) the admin role on a token scoped to a
//                pool's own project: that pool's reads, its instances' creation and its
//                auto-allocation (the reference names the pool of POST /servers by the token's
//                scope), never a change to the pool itself
//                oslo: role:admin and project_id:%(target.project_id)s
// Anything else (the admin role on a project that is not a pool, a member, an unscoped token)
// is no admin. docs/security.md#scopes has the table of routes.
import type { Config } from "../config/schema.ts";
import { forbidden, notFound } from "./errors.ts";
import type { Caller } from "./identity.ts";

const POOL_PROJECT_LIMIT =
  "An admin of a pool's project reads the pool and creates its instances; changing the pool needs a domain or cloud admin.";

/** What an admin may reach: everything, the pools of one domain, or one pool. */
export type AdminReach =
  | { kind: "cloud" }
  | { kind: "domain"; domainId: string }
  /** The admin of one pool's own project. */
  | { kind: "project"; projectId: string }
  | { kind: "none" };

export type AdminScopeConfig = Pick<Config["auth"], "adminRoles" | "scope">;

export class AdminScopes {
  /**
   * @param serviceProjectId the project of rs-server's own service account: the admin project
   *   when auth.scope.adminProject is empty (asked only for project-scoped admin tokens).
   * @param isPool whether a project is a pool's (asked only for project-scoped admin tokens
   *   that are not of the admin project).
   */
  constructor(
    private readonly config: AdminScopeConfig,
    private readonly serviceProjectId: () => Promise<string>,
    private readonly isPool: (projectId: string) => Promise<boolean> = async () => false,
  ) {}

  /** The caller's reach under the configured rules. */
  async reachOf(caller: Caller): Promise<AdminReach> {
    const { adminRoles, scope: rules } = this.config;
    if (!caller.roles.some((r) => adminRoles.includes(r))) return { kind: "none" };
    if (!rules.enforce) return { kind: "cloud" };
    const s = caller.scope;
    const cloud = rules.cloudAdmin;
    if (s.kind === "system" && cloud.includes("system")) return { kind: "cloud" };
    if (s.kind === "domain" && cloud.includes("domain")) return { kind: "cloud" };
    if (s.kind === "project" && cloud.includes("admin_project") && (await this.isAdminProject(s)))
      return { kind: "cloud" };
    if (s.kind === "domain" && rules.domainAdmin) return { kind: "domain", domainId: s.domainId };
    if (s.kind === "project" && rules.poolProjectAdmin && (await this.isPool(s.projectId)))
      return { kind: "project", projectId: s.projectId };
    return { kind: "none" };
  }

  /** The message of a refusal to a caller who is not a cloud admin. */
  cloudOnly(): string {
    const ways = this.config.scope.cloudAdmin.map((c) =>
      c === "system"
        ? "a system-scoped token"
        : c === "admin_project"
          ? "a token scoped to the admin project"
          : "a domain-scoped token",
    );
    const how = ways.length > 0 ? ` on ${ways.join(" or ")}` : "";
    return `This action requires a cloud admin: an admin role (${this.config.adminRoles.join(", ")})${how}.`;
  }

  /**
   * Refuses a domain admin a pool of another domain with the answer an unknown pool gets, so
   * that no domain admin learns which pools other domains have.
   */
  checkPool(reach: AdminReach, pool: { id: string; domain_id: string } | undefined, id: string): void {
    if (reach.kind === "cloud") return;
    if (reach.kind === "domain" && pool && pool.domain_id === reach.domainId) return;
    if (reach.kind === "project" && pool && pool.id === reach.projectId) return;
    if (reach.kind === "none") throw forbidden("This action requires an admin role.");
    throw notFound(`TRS project ${id} not found`);
  }

  /**
   * Refuses a domain admin a domain other than its own (a pool created in or moved to it), and
   * a pool's project admin any pool creation or move.
   */
  checkDomain(reach: AdminReach, domainId: string | undefined): void {
    if (reach.kind === "project") throw forbidden(POOL_PROJECT_LIMIT);
    if (reach.kind === "cloud" || domainId === undefined) return;
    if (reach.kind === "domain" && domainId === reach.domainId) return;
    throw forbidden("A domain admin manages only the TRS projects of its own domain.");
  }

  /** Refuses a pool's project admin what changes the pool itself (`allowed`: what it may do). */
  checkPoolChange(reach: AdminReach, allowed: boolean): void {
    if (reach.kind === "project" && !allowed) throw forbidden(POOL_PROJECT_LIMIT);
  }

  private async isAdminProject(s: Extract<Caller["scope"], { kind: "project" }>): Promise<boolean> {
    const { adminProject, adminProjectDomain } = this.config.scope;
    if (adminProject === "") return s.projectId === (await this.serviceProjectId().catch(() => undefined));
    return (
      s.projectName === adminProject &&
      (s.domainName === adminProjectDomain || s.domainId === adminProjectDomain)
    );
  }
}
