// rs-server's typed Keystone v3 client. End-user authentication (password, TOTP receipts,
// token rescoping, password change) goes out without any service token and answers with
// outcomes; everything else runs with the service session's token and throws CloudError.
import { isCloudError, ServiceHttp } from "./http.ts";
import {
  type AuthOutcome,
  type AuthScope,
  KeystoneAuth,
  type PasswordChangeOutcome,
  type UserRef,
} from "./keystone-auth.ts";
import {
  type KsCredential,
  type KsDomain,
  type KsGroup,
  type KsProject,
  type KsRole,
  type KsRoleAssignment,
  type KsUser,
  type TokenInfo,
  toCredential,
  toDomain,
  toGroup,
  toProject,
  toRole,
  toRoleAssignment,
  toTokenInfo,
  toUser,
} from "./keystone-types.ts";
import type { CloudSession } from "./session.ts";

export type { AuthFailure, AuthOutcome, AuthScope, PasswordChangeOutcome, UserRef } from "./keystone-auth.ts";
export type * from "./keystone-types.ts";

export interface ProjectFilter {
  name?: string;
  domainId?: string;
  enabled?: boolean;
  parentId?: string;
  /** All of these tags. */
  tags?: string[];
  /** At least one of these tags. */
  tagsAny?: string[];
  notTags?: string[];
  notTagsAny?: string[];
}

export interface NewProject {
  name: string;
  domainId?: string;
  description?: string;
  enabled?: boolean;
  tags?: string[];
  parentId?: string;
}

export interface NewUser {
  name: string;
  domainId: string;
  password?: string;
  enabled?: boolean;
  email?: string;
  description?: string;
  defaultProjectId?: string;
  /** Keystone resource options, e.g. multi_factor_auth_rules, ignore_password_expiry. */
  options?: Record<string, unknown>;
}

export type Actor = { userId: string } | { groupId: string };

export interface AssignmentFilter {
  userId?: string;
  groupId?: string;
  projectId?: string;
  domainId?: string;
  /** Only grants on the system (`scope.system=all`). */
  system?: boolean;
  roleId?: string;
  /** Expand group grants to their members and implied roles. */
  effective?: boolean;
  includeNames?: boolean;
}

const enc = encodeURIComponent;
const MISSING_BATCH = 8;
const csv = (v?: string[]) => (v && v.length > 0 ? v.join(",") : undefined);

function actorPath(actor: Actor) {
  return "userId" in actor ? `users/${enc(actor.userId)}` : `groups/${enc(actor.groupId)}`;
}

export class KeystoneClient {
  /** Identity calls with the service token. */
  readonly http: ServiceHttp;
  /** Identity calls without one (end users' credentials). */
  readonly auth: KeystoneAuth;

  constructor(readonly session: CloudSession) {
    const { timeoutMs, retries } = session.creds;
    const base = session.authUrl;
    this.http = new ServiceHttp({
      service: "identity",
      // The auth URL, not the catalog's identity entry: it is what operators configure and test.
      endpoint: async () => base,
      token: (force) => session.token(force),
      timeoutMs,
      retries,
    });
    this.auth = KeystoneAuth.forUrl(base, timeoutMs, retries);
  }

  // --- end-user authentication -------------------------------------------------------------

  /**
   * Password authentication. A generic 401 (Keystone does not tell an unknown user from a
   * wrong password) is narrowed with the service account to domain_not_found or
   * user_not_found when the user was named by name and domain name.
   */
  async authenticatePassword(input: {
    user: UserRef;
    password: string;
    scope?: AuthScope;
    passcode?: string;
  }): Promise<AuthOutcome> {
    const outcome = await this.auth.password(input.user, input.password, input.scope, input.passcode);
    if (outcome.kind !== "invalid_credentials" || !("username" in input.user)) return outcome;
    return this.diagnose(input.user).catch(() => outcome);
  }

  /** Completes the MFA receipt flow (or authenticates by TOTP alone) with a passcode. */
  authenticateTotp(input: { user: UserRef; passcode: string; receipt?: string; scope?: AuthScope }) {
    return this.auth.totp(input.user, input.passcode, input.scope, input.receipt);
  }

  /** Token authentication: rescopes a user's token (it never outlives the original). */
  authenticateToken(token: string, scope?: AuthScope) {
    return this.auth.token(token, scope);
  }

  /** Self-service password change (Keystone needs no token for it: expired users can call it). */
  changePassword(
    userId: string,
    originalPassword: string,
    newPassword: string,
  ): Promise<PasswordChangeOutcome> {
    return this.auth.changePassword(userId, originalPassword, newPassword);
  }

  private async diagnose(user: { username: string; userDomainName?: string; userDomainId?: string }) {
    const domain = user.userDomainId
      ? await this.getDomain(user.userDomainId).catch((err) => {
          if (isCloudError(err, "not_found")) return undefined;
          throw err;
        })
      : await this.findDomainByName(user.userDomainName ?? "Default");
    const domainLabel = user.userDomainName ?? user.userDomainId ?? "Default";
    if (!domain) return { kind: "domain_not_found", domain: domainLabel } as const;
    const found = await this.findUser(user.username, domain.id);
    if (!found) return { kind: "user_not_found", user: user.username, domain: domainLabel } as const;
    if (!found.enabled) return { kind: "user_disabled", userId: found.id } as const;
    return { kind: "invalid_credentials" } as const;
  }

  // --- tokens -------------------------------------------------------------------------------

  /** Validates a user's token; undefined when Keystone does not know it (invalid, expired, revoked). */
  async validateToken(token: string): Promise<TokenInfo | undefined> {
    // Keystone's tokens are visible ASCII: anything else is no token, and cannot even be sent
    // as a header (fetch refuses it, which read as Keystone being down: code 21).
    if (!isTokenShaped(token)) return undefined;
    const res = await this.http.request("GET", "/auth/tokens", {
      headers: { "X-Subject-Token": token },
      query: { nocatalog: "" },
      acceptStatus: [404],
    });
    return res.status === 404 ? undefined : toTokenInfo(res.body);
  }

  async revokeToken(token: string): Promise<void> {
    if (!isTokenShaped(token)) return;
    await this.http.request("DELETE", "/auth/tokens", {
      headers: { "X-Subject-Token": token },
      acceptStatus: [404],
    });
  }

  /** Projects the token's own user may scope to (GET /v3/auth/projects with that token). */
  async listTokenProjects(token: string): Promise<KsProject[]> {
    const res = await this.auth.http.request<any>("GET", "/auth/projects", {
      headers: { "X-Auth-Token": token },
    });
    return (res.body.projects ?? []).map(toProject);
  }

  // --- projects -------------------------------------------------------------------------------

  async createProject(p: NewProject): Promise<KsProject> {
    const body = await this.http.post("/projects", {
      project: {
        name: p.name,
        domain_id: p.domainId,
        description: p.description ?? "",
        enabled: p.enabled ?? true,
        tags: p.tags ?? [],
        parent_id: p.parentId,
      },
    });
    return toProject(body.project);
  }

  async getProject(id: string): Promise<KsProject> {
    return toProject((await this.http.get(`/projects/${enc(id)}`)).project);
  }

  async findProject(name: string, domainId: string): Promise<KsProject | undefined> {
    return (await this.listProjects({ name, domainId }))[0];
  }

  async listProjects(f: ProjectFilter = {}): Promise<KsProject[]> {
    const body = await this.http.get("/projects", {
      query: {
        name: f.name,
        domain_id: f.domainId,
        enabled: f.enabled,
        parent_id: f.parentId,
        tags: csv(f.tags),
        "tags-any": csv(f.tagsAny),
        "not-tags": csv(f.notTags),
        "not-tags-any": csv(f.notTagsAny),
      },
    });
    return (body.projects ?? []).map(toProject);
  }

  async updateProject(
    id: string,
    patch: Partial<Pick<KsProject, "name" | "description" | "enabled" | "tags">>,
  ): Promise<KsProject> {
    return toProject((await this.http.patch(`/projects/${enc(id)}`, { project: patch })).project);
  }

  deleteProject(id: string): Promise<void> {
    return this.http.delete(`/projects/${enc(id)}`);
  }

  async addProjectTag(id: string, tag: string): Promise<void> {
    await this.http.put(`/projects/${enc(id)}/tags/${enc(tag)}`);
  }

  removeProjectTag(id: string, tag: string): Promise<void> {
    return this.http.delete(`/projects/${enc(id)}/tags/${enc(tag)}`);
  }

  async listProjectTags(id: string): Promise<string[]> {
    return (await this.http.get(`/projects/${enc(id)}/tags`)).tags ?? [];
  }

  // --- domains ----------------------------------------------------------------------------------

  async getDomain(id: string): Promise<KsDomain> {
    return toDomain((await this.http.get(`/domains/${enc(id)}`)).domain);
  }

  async findDomainByName(name: string): Promise<KsDomain | undefined> {
    return (await this.listDomains({ name }))[0];
  }

  async listDomains(f: { name?: string; enabled?: boolean } = {}): Promise<KsDomain[]> {
    const body = await this.http.get("/domains", { query: { name: f.name, enabled: f.enabled } });
    return (body.domains ?? []).map(toDomain);
  }

  async createDomain(d: { name: string; description?: string; enabled?: boolean }): Promise<KsDomain> {
    return toDomain((await this.http.post("/domains", { domain: d })).domain);
  }

  async updateDomain(id: string, patch: Partial<Omit<KsDomain, "id">>): Promise<KsDomain> {
    return toDomain((await this.http.patch(`/domains/${enc(id)}`, { domain: patch })).domain);
  }

  /** Keystone deletes only disabled domains: disable first, then delete (with all it holds). */
  async deleteDomain(id: string): Promise<void> {
    await this.updateDomain(id, { enabled: false });
    await this.http.delete(`/domains/${enc(id)}`);
  }

  // --- users --------------------------------------------------------------------------------------

  async getUser(id: string): Promise<KsUser> {
    return toUser((await this.http.get(`/users/${enc(id)}`)).user);
  }

  async findUser(name: string, domainId: string): Promise<KsUser | undefined> {
    return (await this.listUsers({ name, domainId }))[0];
  }

  /** `nameContains` is Keystone's case-insensitive inexact filter (name__icontains). */
  async listUsers(
    f: { name?: string; nameContains?: string; domainId?: string; enabled?: boolean } = {},
  ): Promise<KsUser[]> {
    const body = await this.http.get("/users", {
      query: { name: f.name, name__icontains: f.nameContains, domain_id: f.domainId, enabled: f.enabled },
    });
    return (body.users ?? []).map(toUser);
  }

  async createUser(u: NewUser): Promise<KsUser> {
    const body = await this.http.post("/users", {
      user: {
        name: u.name,
        domain_id: u.domainId,
        password: u.password,
        enabled: u.enabled ?? true,
        email: u.email,
        description: u.description,
        default_project_id: u.defaultProjectId,
        options: u.options,
      },
    });
    return toUser(body.user);
  }

  /** Admin update; setting `password` this way revokes the user's tokens. */
  async updateUser(
    id: string,
    patch: Partial<Pick<NewUser, "name" | "password" | "enabled" | "email" | "description" | "options">>,
  ): Promise<KsUser> {
    return toUser((await this.http.patch(`/users/${enc(id)}`, { user: patch })).user);
  }

  deleteUser(id: string): Promise<void> {
    return this.http.delete(`/users/${enc(id)}`);
  }

  /** Projects on which the user holds a role, directly or through a group. */
  async listUserProjects(userId: string): Promise<KsProject[]> {
    return ((await this.http.get(`/users/${enc(userId)}/projects`)).projects ?? []).map(toProject);
  }

  /** Of these user ids, those Keystone does not know. */
  missingUsers(ids: string[]): Promise<string[]> {
    return this.missing(ids, (id) => this.getUser(id));
  }

  // --- groups -------------------------------------------------------------------------------------

  async getGroup(id: string): Promise<KsGroup> {
    return toGroup((await this.http.get(`/groups/${enc(id)}`)).group);
  }

  /** `nameContains` is Keystone's case-insensitive inexact filter (name__icontains). */
  async listGroups(f: { name?: string; nameContains?: string; domainId?: string } = {}): Promise<KsGroup[]> {
    const body = await this.http.get("/groups", {
      query: { name: f.name, name__icontains: f.nameContains, domain_id: f.domainId },
    });
    return (body.groups ?? []).map(toGroup);
  }

  async createGroup(g: { name: string; domainId: string; description?: string }): Promise<KsGroup> {
    const body = await this.http.post("/groups", {
      group: { name: g.name, domain_id: g.domainId, description: g.description ?? "" },
    });
    return toGroup(body.group);
  }

  deleteGroup(id: string): Promise<void> {
    return this.http.delete(`/groups/${enc(id)}`);
  }

  async addUserToGroup(groupId: string, userId: string): Promise<void> {
    await this.http.put(`/groups/${enc(groupId)}/users/${enc(userId)}`);
  }

  removeUserFromGroup(groupId: string, userId: string): Promise<void> {
    return this.http.delete(`/groups/${enc(groupId)}/users/${enc(userId)}`);
  }

  async isUserInGroup(groupId: string, userId: string): Promise<boolean> {
    const res = await this.http.request("HEAD", `/groups/${enc(groupId)}/users/${enc(userId)}`, {
      acceptStatus: [404],
    });
    return res.status < 300;
  }

  /** The groups a user belongs to. */
  async listUserGroups(userId: string): Promise<KsGroup[]> {
    return ((await this.http.get(`/users/${enc(userId)}/groups`)).groups ?? []).map(toGroup);
  }

  async listGroupUsers(groupId: string): Promise<KsUser[]> {
    return ((await this.http.get(`/groups/${enc(groupId)}/users`)).users ?? []).map(toUser);
  }

  /** Of these group ids, those Keystone does not know. */
  missingGroups(ids: string[]): Promise<string[]> {
    return this.missing(ids, (id) => this.getGroup(id));
  }

  // --- roles and assignments ----------------------------------------------------------------------

  async listRoles(f: { name?: string } = {}): Promise<KsRole[]> {
    return ((await this.http.get("/roles", { query: { name: f.name } })).roles ?? []).map(toRole);
  }

  async findRole(name: string): Promise<KsRole | undefined> {
    return (await this.listRoles({ name }))[0];
  }

  async createRole(name: string): Promise<KsRole> {
    return toRole((await this.http.post("/roles", { role: { name } })).role);
  }

  async grantProjectRole(projectId: string, actor: Actor, roleId: string): Promise<void> {
    await this.http.put(`/projects/${enc(projectId)}/${actorPath(actor)}/roles/${enc(roleId)}`);
  }

  revokeProjectRole(projectId: string, actor: Actor, roleId: string): Promise<void> {
    return this.http.delete(`/projects/${enc(projectId)}/${actorPath(actor)}/roles/${enc(roleId)}`);
  }

  async grantDomainRole(domainId: string, actor: Actor, roleId: string): Promise<void> {
    await this.http.put(`/domains/${enc(domainId)}/${actorPath(actor)}/roles/${enc(roleId)}`);
  }

  /** A role on the system (Keystone's system scope): PUT /v3/system/{users,groups}/{id}/roles/{role}. */
  async grantSystemRole(actor: Actor, roleId: string): Promise<void> {
    await this.http.put(`/system/${actorPath(actor)}/roles/${enc(roleId)}`);
  }

  async hasProjectRole(projectId: string, actor: Actor, roleId: string): Promise<boolean> {
    const res = await this.http.request(
      "HEAD",
      `/projects/${enc(projectId)}/${actorPath(actor)}/roles/${enc(roleId)}`,
      {
        acceptStatus: [404],
      },
    );
    return res.status < 300;
  }

  async listRoleAssignments(f: AssignmentFilter = {}): Promise<KsRoleAssignment[]> {
    const query: Record<string, string | undefined> = {
      "user.id": f.userId,
      "group.id": f.groupId,
      "scope.project.id": f.projectId,
      "scope.domain.id": f.domainId,
      "scope.system": f.system ? "all" : undefined,
      "role.id": f.roleId,
    };
    // Keystone reads these two as flags: present means on.
    if (f.effective) query.effective = "";
    if (f.includeNames) query.include_names = "";
    const body = await this.http.get("/role_assignments", { query });
    return (body.role_assignments ?? []).map(toRoleAssignment);
  }

  /** Who holds which role on a project, directly or through a group (with names). */
  effectiveProjectAssignments(projectId: string): Promise<KsRoleAssignment[]> {
    return this.listRoleAssignments({ projectId, effective: true, includeNames: true });
  }

  /** Ids of the users holding any role on the project, directly or through a group. */
  async projectUserIds(projectId: string): Promise<string[]> {
    const rows = await this.effectiveProjectAssignments(projectId);
    return [...new Set(rows.map((r) => r.userId).filter((id): id is string => Boolean(id)))];
  }

  // --- credentials (TOTP secrets) -----------------------------------------------------------------

  async createTotpCredential(userId: string, base32Secret: string): Promise<KsCredential> {
    const body = await this.http.post("/credentials", {
      credential: { user_id: userId, type: "totp", blob: base32Secret },
    });
    return toCredential(body.credential);
  }

  async listCredentials(f: { userId?: string; type?: string } = {}): Promise<KsCredential[]> {
    const body = await this.http.get("/credentials", { query: { user_id: f.userId, type: f.type } });
    return (body.credentials ?? []).map(toCredential);
  }

  deleteCredential(id: string): Promise<void> {
    return this.http.delete(`/credentials/${enc(id)}`);
  }

  /** Keystone has no lookup by many ids: ask for each, a few at a time. */
  private async missing(ids: string[], get: (id: string) => Promise<unknown>): Promise<string[]> {
    const unique = [...new Set(ids)];
    const absent: string[] = [];
    for (let i = 0; i < unique.length; i += MISSING_BATCH) {
      const batch = unique.slice(i, i + MISSING_BATCH);
      const found = await Promise.all(
        batch.map((id) =>
          get(id).then(
            () => true,
            (err) => {
              if (isCloudError(err, "not_found")) return false;
              throw err;
            },
          ),
        ),
      );
      absent.push(...batch.filter((_, j) => !found[j]));
    }
    return absent;
  }
}

/** A token Keystone could have issued: 1 to 8192 visible ASCII characters (fernet, JWS and UUID tokens are). */
export function isTokenShaped(token: string): boolean {
  return token.length > 0 && token.length <= 8192 && /^[\x21-\x7e]+$/.test(token);
}
