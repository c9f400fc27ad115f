// Keystone v3 records as rs-server sees them (camelCase, dates parsed), read from the wire.

export interface KsRoleRef {
  id: string;
  name: string;
}

/** What a token says about its holder; from POST or GET /v3/auth/tokens. */
export interface TokenInfo {
  userId: string;
  userName: string;
  userDomainId: string;
  userDomainName: string;
  /** Null when the password never expires. */
  passwordExpiresAt: Date | null;
  methods: string[];
  auditIds: string[];
  projectId?: string;
  projectName?: string;
  projectDomainId?: string;
  projectDomainName?: string;
  /** Set for domain-scoped tokens. */
  domainId?: string;
  domainName?: string;
  /** A system-scoped token (`"system": {"all": true}` in the token). */
  system: boolean;
  roles: KsRoleRef[];
  issuedAt: Date;
  expiresAt: Date;
}

export interface KsProject {
  id: string;
  name: string;
  domainId: string;
  description: string;
  enabled: boolean;
  parentId: string | null;
  tags: string[];
}

export interface KsDomain {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
}

export interface KsUser {
  id: string;
  name: string;
  domainId: string;
  enabled: boolean;
  email?: string;
  description?: string;
  defaultProjectId?: string;
  passwordExpiresAt: Date | null;
  options: Record<string, unknown>;
}

export interface KsGroup {
  id: string;
  name: string;
  domainId: string;
  description: string;
}

export interface KsRole {
  id: string;
  name: string;
}

export interface KsRoleAssignment {
  roleId: string;
  roleName?: string;
  /** The user holding the role; with effective listings also users holding it through a group. */
  userId?: string;
  userName?: string;
  /** With include_names: the user's domain. */
  userDomainId?: string;
  groupId?: string;
  groupName?: string;
  /** With include_names: the group's domain. */
  groupDomainId?: string;
  projectId?: string;
  domainId?: string;
  /** A grant on the system (`"scope": {"system": {"all": true}}`). */
  system?: boolean;
  /** Effective listings: the group the user holds the role through. */
  viaGroupId?: string;
  /** Effective listings: the role that implies this one. */
  impliedFromRoleId?: string;
}

export interface KsCredential {
  id: string;
  userId: string;
  projectId: string | null;
  type: string;
  blob: string;
}

/** Keystone writes password_expires_at without a zone: it is UTC. */
export function ksDate(value: unknown): Date | null {
  if (typeof value !== "string" || !value) return null;
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
}

export function toTokenInfo(body: any): TokenInfo {
  const t = body?.token ?? {};
  return {
    userId: t.user?.id,
    userName: t.user?.name,
    userDomainId: t.user?.domain?.id,
    userDomainName: t.user?.domain?.name,
    passwordExpiresAt: ksDate(t.user?.password_expires_at),
    methods: t.methods ?? [],
    auditIds: t.audit_ids ?? [],
    projectId: t.project?.id,
    projectName: t.project?.name,
    projectDomainId: t.project?.domain?.id,
    projectDomainName: t.project?.domain?.name,
    domainId: t.domain?.id,
    domainName: t.domain?.name,
    system: t.system?.all === true,
    roles: (t.roles ?? []).map((r: any) => ({ id: r.id, name: r.name })),
    issuedAt: ksDate(t.issued_at) ?? new Date(),
    expiresAt: ksDate(t.expires_at) ?? new Date(0),
  };
}

export const toProject = (p: any): KsProject => ({
  id: p.id,
  name: p.name,
  domainId: p.domain_id,
  description: p.description ?? "",
  enabled: p.enabled !== false,
  parentId: p.parent_id ?? null,
  tags: p.tags ?? [],
});

export const toDomain = (d: any): KsDomain => ({
  id: d.id,
  name: d.name,
  description: d.description ?? "",
  enabled: d.enabled !== false,
});

export const toUser = (u: any): KsUser => ({
  id: u.id,
  name: u.name,
  domainId: u.domain_id,
  enabled: u.enabled !== false,
  email: u.email,
  description: u.description,
  defaultProjectId: u.default_project_id,
  passwordExpiresAt: ksDate(u.password_expires_at),
  options: u.options ?? {},
});

export const toGroup = (g: any): KsGroup => ({
  id: g.id,
  name: g.name,
  domainId: g.domain_id,
  description: g.description ?? "",
});

export const toRole = (r: any): KsRole => ({ id: r.id, name: r.name });

export const toCredential = (c: any): KsCredential => ({
  id: c.id,
  userId: c.user_id,
  projectId: c.project_id ?? null,
  type: c.type,
  blob: c.blob,
});

const lastSegment = (url: unknown, after: string) => {
  if (typeof url !== "string") return undefined;
  const m = url.match(new RegExp(`/${after}/([^/]+)`));
  return m?.[1];
};

export function toRoleAssignment(a: any): KsRoleAssignment {
  const out: KsRoleAssignment = {
    roleId: a.role?.id,
    roleName: a.role?.name,
    userId: a.user?.id,
    userName: a.user?.name,
    userDomainId: a.user?.domain?.id,
    groupId: a.group?.id,
    groupName: a.group?.name,
    groupDomainId: a.group?.domain?.id,
    projectId: a.scope?.project?.id,
    domainId: a.scope?.domain?.id,
  };
  if (a.scope?.system?.all === true) out.system = true;
  // Effective listings say through which group and prior role only in their links.
  if (a.links?.membership) out.viaGroupId = lastSegment(a.links.membership, "groups");
  if (a.links?.prior_role) out.impliedFromRoleId = lastSegment(a.links.prior_role, "roles");
  return out;
}
