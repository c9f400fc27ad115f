// The simulated Keystone's state holder and the lookups every route shares.
import { KsError, notFound } from "./errors.ts";
import {
  DEFAULT_KEYSTONE_SETTINGS,
  type DomainRec,
  emptyState,
  type KeystoneSettings,
  type KeystoneState,
  type ProjectRec,
  type UserRec,
} from "./state.ts";

export class Keystone {
  state: KeystoneState = emptyState();
  readonly settings: KeystoneSettings;
  /** Bumped on every change, so persistence knows when to save. */
  version = 0;

  constructor(
    settings: Partial<KeystoneSettings>,
    readonly baseUrl: () => string,
  ) {
    this.settings = { ...DEFAULT_KEYSTONE_SETTINGS, ...settings };
  }

  touch() {
    this.version++;
  }

  /** Unversioned identity endpoint, e.g. http://127.0.0.1:5000/identity */
  identityUrl() {
    return `${this.baseUrl()}/identity`;
  }

  link(path: string) {
    return `${this.identityUrl()}/v3${path}`;
  }

  listLinks(path: string) {
    return { self: this.link(path), previous: null, next: null };
  }

  domain(id: string): DomainRec {
    const d = this.state.domains[id];
    if (!d) throw notFound("domain", id);
    return d;
  }

  project(id: string): ProjectRec {
    const p = this.state.projects[id];
    if (!p) throw notFound("project", id);
    return p;
  }

  user(id: string): UserRec {
    const u = this.state.users[id];
    if (!u) throw notFound("user", id);
    return u;
  }

  group(id: string) {
    const g = this.state.groups[id];
    if (!g) throw notFound("group", id);
    return g;
  }

  role(id: string) {
    const r = this.state.roles[id];
    if (!r) throw notFound("role", id);
    return r;
  }

  /**
   * Keystone on its usual MySQL/MariaDB backend compares names with a case-insensitive
   * collation: `{"name": "default"}` is the Default domain there (the reference's own
   * examples rely on it).
   */
  domainByName(name: string): DomainRec | undefined {
    const wanted = name.toLowerCase();
    return Object.values(this.state.domains).find((d) => d.name.toLowerCase() === wanted);
  }

  /** Resolves `{"id"}` or `{"name"}` the way the auth API names a domain. */
  domainRef(ref: unknown): DomainRec | undefined {
    if (!ref || typeof ref !== "object") return undefined;
    const { id, name } = ref as { id?: unknown; name?: unknown };
    if (typeof id === "string") return this.state.domains[id];
    if (typeof name === "string") return this.domainByName(name);
    return undefined;
  }

  userByName(domainId: string, name: string): UserRec | undefined {
    return Object.values(this.state.users).find((u) => u.domainId === domainId && u.name === name);
  }

  projectByName(domainId: string, name: string): ProjectRec | undefined {
    return Object.values(this.state.projects).find((p) => p.domainId === domainId && p.name === name);
  }

  groupsOf(userId: string): string[] {
    return Object.entries(this.state.members)
      .filter(([, users]) => users.includes(userId))
      .map(([groupId]) => groupId);
  }
}

/** Reads a JSON object member or answers 400 as Keystone's schema validation does. */
export function requireObject(body: unknown, key: string): Record<string, any> {
  const value = body && typeof body === "object" ? (body as Record<string, unknown>)[key] : undefined;
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new KsError(400, `'${key}' is a required property`);
  }
  return value as Record<string, any>;
}

/** Keystone's reading of boolean query filters: "0" and "false" are false, anything else true. */
const INEXACT: Record<string, (value: string, wanted: string) => boolean> = {
  contains: (v, w) => v.includes(w),
  startswith: (v, w) => v.startsWith(w),
  endswith: (v, w) => v.endsWith(w),
};

/**
 * Keystone's filters on a listed attribute: `name=x` exact, and the inexact `name__contains`,
 * `name__startswith`, `name__endswith`, each with an `i` form that ignores case
 * (`name__icontains`). Every filter given must match.
 */
export function matchesFilters(q: Record<string, string>, attr: string, value: string): boolean {
  for (const [key, wanted] of Object.entries(q)) {
    if (key === attr) {
      if (wanted && value !== wanted) return false;
      continue;
    }
    if (!key.startsWith(`${attr}__`)) continue;
    const op = key.slice(attr.length + 2);
    const insensitive = op.startsWith("i") && INEXACT[op.slice(1)];
    const test = INEXACT[op] ?? insensitive;
    if (!test) continue;
    const ok = insensitive ? test(value.toLowerCase(), wanted.toLowerCase()) : test(value, wanted);
    if (!ok) return false;
  }
  return true;
}

export function queryTrue(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  return !["0", "false"].includes(value.toLowerCase());
}
