// Tokens and auth receipts: issue, resolve (with roles computed at validation time, as
// Fernet tokens are), revoke, and render in Keystone's wire shape.
import { effectiveRoleIds } from "./assignments.ts";
import { renderCatalog } from "./catalog.ts";
import type { Keystone } from "./core.ts";
import { passwordExpiresAt } from "./passwords.ts";
import {
  type DomainRec,
  ksLocalTime,
  ksTime,
  newAuditId,
  newOpaque,
  type ProjectRec,
  type RoleRec,
  type TokenRec,
  type UserRec,
} from "./state.ts";

export interface TokenContext {
  id: string;
  rec: TokenRec;
  user: UserRec;
  userDomain: DomainRec;
  project?: ProjectRec;
  domain?: DomainRec;
  system?: boolean;
  roles: RoleRec[];
}

let issuedSinceSweep = 0;

function sweepExpired(ks: Keystone, now: number) {
  for (const [id, t] of Object.entries(ks.state.tokens))
    if (Date.parse(t.expiresAt) <= now) delete ks.state.tokens[id];
  for (const [id, r] of Object.entries(ks.state.receipts)) {
    if (Date.parse(r.expiresAt) <= now) delete ks.state.receipts[id];
  }
}

export function issueToken(
  ks: Keystone,
  input: {
    userId: string;
    methods: string[];
    projectId?: string;
    domainId?: string;
    system?: boolean;
    parent?: TokenRec;
  },
): string {
  const now = Date.now();
  if (++issuedSinceSweep >= 256) {
    issuedSinceSweep = 0;
    sweepExpired(ks, now);
  }
  let expires = now + ks.settings.tokenExpirationSec * 1000;
  // A rescoped token never outlives the token it came from.
  if (input.parent) expires = Math.min(expires, Date.parse(input.parent.expiresAt));
  const id = newOpaque("gAAAAAB");
  ks.state.tokens[id] = {
    userId: input.userId,
    methods: input.methods,
    projectId: input.projectId,
    domainId: input.domainId,
    ...(input.system ? { system: true } : {}),
    // A Fernet token carries its creation time in whole seconds.
    issuedAt: new Date(Math.floor(now / 1000) * 1000).toISOString(),
    expiresAt: new Date(expires).toISOString(),
    auditIds: input.parent ? [newAuditId(), input.parent.auditIds[0]] : [newAuditId()],
  };
  ks.touch();
  return id;
}

/**
 * The token's context, or undefined when it is unknown, expired, revoked or no longer authorized.
 * At issue Keystone does not consult revocation events (it mints, then answers 201), so a
 * token issued in the second of a password change is handed out and refused when first used.
 */
export function resolveToken(ks: Keystone, id: string, atIssue = false): TokenContext | undefined {
  const rec = ks.state.tokens[id];
  if (!rec) return undefined;
  if (Date.parse(rec.expiresAt) <= Date.now()) return undefined;
  const user = ks.state.users[rec.userId];
  const userDomain = user && ks.state.domains[user.domainId];
  if (!user?.enabled || !userDomain?.enabled) return undefined;
  const revokedBefore = ks.state.revokedBefore[user.id];
  // Keystone's revocation event covers tokens issued at or before it: with the token's time
  // in whole seconds, a token issued in the same second as a password change is revoked too.
  if (!atIssue && revokedBefore && Date.parse(rec.issuedAt) <= Date.parse(revokedBefore)) return undefined;
  const ctx: TokenContext = { id, rec, user, userDomain, roles: [] };
  if (rec.projectId) {
    const project = ks.state.projects[rec.projectId];
    if (!project?.enabled || !ks.state.domains[project.domainId]?.enabled) return undefined;
    ctx.project = project;
    ctx.roles = effectiveRoleIds(ks, user.id, "project", project.id).map((r) => ks.state.roles[r]);
    if (ctx.roles.length === 0) return undefined;
  } else if (rec.domainId) {
    const domain = ks.state.domains[rec.domainId];
    if (!domain?.enabled) return undefined;
    ctx.domain = domain;
    ctx.roles = effectiveRoleIds(ks, user.id, "domain", domain.id).map((r) => ks.state.roles[r]);
    if (ctx.roles.length === 0) return undefined;
  } else if (rec.system) {
    ctx.system = true;
    ctx.roles = effectiveRoleIds(ks, user.id, "system", "all").map((r) => ks.state.roles[r]);
    if (ctx.roles.length === 0) return undefined;
  }
  return ctx;
}

/** Revokes a token and every token rescoped from it (Keystone revokes by audit chain). */
export function revokeToken(ks: Keystone, id: string) {
  const rec = ks.state.tokens[id];
  if (!rec) return;
  const audit = rec.auditIds[0];
  for (const [other, t] of Object.entries(ks.state.tokens))
    if (t.auditIds.includes(audit)) delete ks.state.tokens[other];
  ks.touch();
}

/** Revokes every token of a user issued until now (password change, disable, delete). */
export function revokeUserTokens(ks: Keystone, userId: string) {
  ks.state.revokedBefore[userId] = new Date().toISOString();
  for (const [id, t] of Object.entries(ks.state.tokens)) if (t.userId === userId) delete ks.state.tokens[id];
  ks.touch();
}

export function renderUserRef(ks: Keystone, user: UserRec) {
  const d = ks.state.domains[user.domainId];
  return {
    domain: { id: d.id, name: d.name },
    id: user.id,
    name: user.name,
    password_expires_at: ksLocalTime(passwordExpiresAt(user)),
  };
}

export function renderToken(ks: Keystone, ctx: TokenContext, includeCatalog: boolean) {
  const { rec } = ctx;
  const token: Record<string, unknown> = {
    methods: rec.methods,
    user: renderUserRef(ks, ctx.user),
    audit_ids: rec.auditIds,
    expires_at: ksTime(new Date(rec.expiresAt)),
    issued_at: ksTime(new Date(rec.issuedAt)),
  };
  if (ctx.project) {
    const d = ks.state.domains[ctx.project.domainId];
    token.project = { domain: { id: d.id, name: d.name }, id: ctx.project.id, name: ctx.project.name };
    token.is_domain = false;
  }
  if (ctx.domain) token.domain = { id: ctx.domain.id, name: ctx.domain.name };
  if (ctx.system) token.system = { all: true };
  if (ctx.project || ctx.domain || ctx.system) {
    token.roles = ctx.roles.map((r) => ({ id: r.id, name: r.name }));
    if (includeCatalog) token.catalog = renderCatalog(ks, ctx.project?.id);
  }
  return { token };
}

export function issueReceipt(ks: Keystone, userId: string, methods: string[]): string {
  const now = Date.now();
  const id = newOpaque("rAAAAAB");
  ks.state.receipts[id] = {
    userId,
    methods,
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + ks.settings.receiptExpirationSec * 1000).toISOString(),
  };
  ks.touch();
  return id;
}
