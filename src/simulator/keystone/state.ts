// The simulated Keystone's whole world as plain JSON-able records, so that a snapshot is a
// deep copy and a restore is an assignment (persistence across simulator restarts).
import { randomBytes, randomUUID } from "node:crypto";
import { dict } from "../dict.ts";

export interface DomainRec {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
}

export interface ProjectRec {
  id: string;
  name: string;
  domainId: string;
  description: string;
  enabled: boolean;
  parentId: string;
  tags: string[];
  /** Attributes Keystone stores as "extra" and returns flattened into the project. */
  extra: Record<string, unknown>;
}

export interface PasswordRec {
  hash: string;
  salt: string;
  createdAt: string;
  /** ISO time, or null when the password never expires. */
  expiresAt: string | null;
}

export interface UserRec {
  id: string;
  name: string;
  domainId: string;
  enabled: boolean;
  defaultProjectId?: string;
  description?: string;
  extra: Record<string, unknown>;
  options: Record<string, unknown>;
  /** Newest first; [0] is the current password. */
  passwords: PasswordRec[];
  failedAuthCount: number;
  failedAuthAt?: string;
}

export interface GroupRec {
  id: string;
  name: string;
  domainId: string;
  description: string;
}

export interface RoleRec {
  id: string;
  name: string;
  description: string;
}

export interface GrantRec {
  actor: "user" | "group";
  actorId: string;
  /** A system grant's targetId is "all" (the only system Keystone has). */
  target: "project" | "domain" | "system";
  targetId: string;
  roleId: string;
}

export interface CredentialRec {
  id: string;
  userId: string;
  projectId: string | null;
  type: string;
  blob: string;
}

export interface TokenRec {
  userId: string;
  methods: string[];
  projectId?: string;
  domainId?: string;
  /** A system-scoped token (`scope: {system: {all: true}}`). */
  system?: boolean;
  issuedAt: string;
  expiresAt: string;
  /** [own audit id, audit id of the token it was rescoped from]. */
  auditIds: string[];
}

export interface ReceiptRec {
  userId: string;
  methods: string[];
  issuedAt: string;
  expiresAt: string;
}

export interface EndpointRec {
  id: string;
  interface: "public" | "internal" | "admin";
  region: string;
  /** URL template: `{base}` is the simulator's base URL, `%(project_id)s` the token's project. */
  url: string;
}

export interface ServiceRec {
  id: string;
  type: string;
  name: string;
  endpoints: EndpointRec[];
}

export interface KeystoneState {
  domains: Record<string, DomainRec>;
  projects: Record<string, ProjectRec>;
  users: Record<string, UserRec>;
  groups: Record<string, GroupRec>;
  /** groupId -> user ids. */
  members: Record<string, string[]>;
  roles: Record<string, RoleRec>;
  /** Prior role id -> implied role ids (Keystone's bootstrap makes admin imply member imply reader). */
  implied: Record<string, string[]>;
  grants: GrantRec[];
  credentials: Record<string, CredentialRec>;
  tokens: Record<string, TokenRec>;
  receipts: Record<string, ReceiptRec>;
  services: ServiceRec[];
  /** When each user's tokens issued before it stop being valid (password change, disable). */
  revokedBefore: Record<string, string>;
}

/** Keystone's [security_compliance], [token] and [receipt] settings that the simulator honours. */
export interface KeystoneSettings {
  /** 0 disables lockout. */
  lockoutFailureAttempts: number;
  /** Seconds; 0 locks until an admin re-enables (resets) the user. */
  lockoutDurationSec: number;
  /** 0: passwords never expire. */
  passwordExpiresDays: number;
  /** How many of the last passwords a new one must differ from (0 or 1: only the current one). */
  uniqueLastPasswordCount: number;
  minimumPasswordAgeDays: number;
  /** Passwords set by an admin are expired at once, so the user must change them. */
  changePasswordUponFirstUse: boolean;
  passwordRegex: string;
  passwordRegexDescription: string;
  tokenExpirationSec: number;
  receiptExpirationSec: number;
}

// Keystone ships with all of [security_compliance] off; the simulator runs the way a VDI
// operator configures it (and scripts/openstack-lite should): lockout and password history on.
export const DEFAULT_KEYSTONE_SETTINGS: KeystoneSettings = {
  lockoutFailureAttempts: 5,
  lockoutDurationSec: 1800,
  passwordExpiresDays: 0,
  uniqueLastPasswordCount: 3,
  minimumPasswordAgeDays: 0,
  changePasswordUponFirstUse: false,
  passwordRegex: "",
  passwordRegexDescription: "",
  tokenExpirationSec: 3600,
  receiptExpirationSec: 300,
};

export function emptyState(): KeystoneState {
  return withoutPrototypes({
    domains: {},
    projects: {},
    users: {},
    groups: {},
    members: {},
    roles: {},
    implied: {},
    grants: [],
    credentials: {},
    tokens: {},
    receipts: {},
    services: [],
    revokedBefore: {},
  });
}

/** Every id-keyed record of the state made prototype-less (a restored snapshot is not). */
export function withoutPrototypes(state: KeystoneState): KeystoneState {
  return {
    ...state,
    domains: dict(state.domains),
    projects: dict(state.projects),
    users: dict(state.users),
    groups: dict(state.groups),
    members: dict(state.members),
    roles: dict(state.roles),
    implied: dict(state.implied),
    credentials: dict(state.credentials),
    tokens: dict(state.tokens),
    receipts: dict(state.receipts),
    revokedBefore: dict(state.revokedBefore),
  };
}

/** Keystone ids are uuid4 hex without dashes. */
export const newId = () => randomUUID().replaceAll("-", "");

/** Opaque token-like string (Fernet tokens are long url-safe base64). */
export const newOpaque = (prefix: string) => `${prefix}${randomBytes(96).toString("base64url")}`;

/** Audit ids are 22 chars of url-safe base64, as Keystone makes them. */
export const newAuditId = () => randomBytes(16).toString("base64url");

/** Keystone's token time format: microseconds and a Z. */
export const ksTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/** Keystone's password_expires_at format: microseconds, no zone. */
export const ksLocalTime = (iso: string | null | undefined) =>
  iso ? new Date(iso).toISOString().replace(/\.(\d{3})Z$/, ".$1000") : null;
