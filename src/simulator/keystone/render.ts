// Keystone v3 JSON shapes of the stored records.
import type { Keystone } from "./core.ts";
import { passwordExpiresAt } from "./passwords.ts";
import {
  type CredentialRec,
  type DomainRec,
  type GroupRec,
  ksLocalTime,
  type ProjectRec,
  type RoleRec,
  type UserRec,
} from "./state.ts";

export function renderDomain(ks: Keystone, d: DomainRec) {
  return {
    id: d.id,
    name: d.name,
    description: d.description,
    enabled: d.enabled,
    tags: d.tags,
    options: {},
    links: { self: ks.link(`/domains/${d.id}`) },
  };
}

export function renderProject(ks: Keystone, p: ProjectRec) {
  return {
    ...p.extra,
    id: p.id,
    name: p.name,
    domain_id: p.domainId,
    description: p.description,
    enabled: p.enabled,
    parent_id: p.parentId,
    is_domain: false,
    tags: p.tags,
    options: {},
    links: { self: ks.link(`/projects/${p.id}`) },
  };
}

export function renderUser(ks: Keystone, u: UserRec) {
  const out: Record<string, unknown> = {
    ...u.extra,
    id: u.id,
    name: u.name,
    domain_id: u.domainId,
    enabled: u.enabled,
    password_expires_at: ksLocalTime(passwordExpiresAt(u)),
    options: u.options,
    links: { self: ks.link(`/users/${u.id}`) },
  };
  if (u.defaultProjectId) out.default_project_id = u.defaultProjectId;
  if (u.description !== undefined) out.description = u.description;
  return out;
}

export function renderGroup(ks: Keystone, g: GroupRec) {
  return {
    id: g.id,
    name: g.name,
    domain_id: g.domainId,
    description: g.description,
    links: { self: ks.link(`/groups/${g.id}`) },
  };
}

export function renderRole(ks: Keystone, r: RoleRec) {
  return {
    id: r.id,
    name: r.name,
    domain_id: null,
    description: r.description,
    options: {},
    links: { self: ks.link(`/roles/${r.id}`) },
  };
}

export function renderCredential(ks: Keystone, c: CredentialRec) {
  return {
    id: c.id,
    user_id: c.userId,
    project_id: c.projectId,
    type: c.type,
    blob: c.blob,
    links: { self: ks.link(`/credentials/${c.id}`) },
  };
}
