// Role assignment arithmetic: direct grants, grants through groups, and implied roles, as
// Keystone computes them for tokens and for GET /v3/role_assignments?effective.
import type { Keystone } from "./core.ts";
import type { GrantRec } from "./state.ts";

/** The closure of role ids under the implied-role rules. */
export function expandImplied(ks: Keystone, roleIds: Iterable<string>): string[] {
  const seen = new Set<string>();
  const stack = [...roleIds];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id) || !ks.state.roles[id]) continue;
    seen.add(id);
    stack.push(...(ks.state.implied[id] ?? []));
  }
  return [...seen];
}

/** Role ids a user holds on a project, domain or the system, directly, through groups, and implied. */
export function effectiveRoleIds(
  ks: Keystone,
  userId: string,
  target: "project" | "domain" | "system",
  targetId: string,
) {
  const groups = new Set(ks.groupsOf(userId));
  const direct = ks.state.grants
    .filter(
      (g) =>
        g.target === target &&
        g.targetId === targetId &&
        ((g.actor === "user" && g.actorId === userId) || (g.actor === "group" && groups.has(g.actorId))),
    )
    .map((g) => g.roleId);
  return expandImplied(ks, direct);
}

/** Project ids on which the user has at least one role (directly or through a group). */
export function projectIdsOf(ks: Keystone, userId: string): string[] {
  const groups = new Set(ks.groupsOf(userId));
  const ids = new Set<string>();
  for (const g of ks.state.grants) {
    if (g.target !== "project") continue;
    if ((g.actor === "user" && g.actorId === userId) || (g.actor === "group" && groups.has(g.actorId))) {
      ids.add(g.targetId);
    }
  }
  return [...ids].filter((id) => ks.state.projects[id]);
}

export function hasGrant(ks: Keystone, grant: GrantRec) {
  return ks.state.grants.some(
    (g) =>
      g.actor === grant.actor &&
      g.actorId === grant.actorId &&
      g.target === grant.target &&
      g.targetId === grant.targetId &&
      g.roleId === grant.roleId,
  );
}

/** One row of GET /v3/role_assignments before rendering. */
export interface AssignmentRow {
  grant: GrantRec;
  /** Set when the row is a group grant expanded to this user (effective mode). */
  userId?: string;
  /** The role shown, which differs from grant.roleId when it is implied. */
  roleId: string;
  priorRoleId?: string;
}

export interface AssignmentFilter {
  userId?: string;
  groupId?: string;
  projectId?: string;
  domainId?: string;
  /** Only system grants (`scope.system=all`). */
  system?: boolean;
  roleId?: string;
  effective: boolean;
}

export function listAssignments(ks: Keystone, f: AssignmentFilter): AssignmentRow[] {
  let rows: AssignmentRow[] = [];
  for (const grant of ks.state.grants) {
    if (f.effective && grant.actor === "group") {
      for (const userId of ks.state.members[grant.actorId] ?? []) {
        rows.push({ grant, userId, roleId: grant.roleId });
      }
    } else {
      rows.push({ grant, userId: grant.actor === "user" ? grant.actorId : undefined, roleId: grant.roleId });
    }
  }
  if (f.effective) {
    rows = rows.flatMap((row) => [
      row,
      ...expandImplied(ks, ks.state.implied[row.roleId] ?? []).map((roleId) => ({
        ...row,
        roleId,
        priorRoleId: row.roleId,
      })),
    ]);
  }
  return rows.filter((row) => {
    const g = row.grant;
    if (f.userId && row.userId !== f.userId) return false;
    if (f.groupId && !(g.actor === "group" && g.actorId === f.groupId && row.userId === undefined))
      return false;
    if (f.projectId && !(g.target === "project" && g.targetId === f.projectId)) return false;
    if (f.domainId && !(g.target === "domain" && g.targetId === f.domainId)) return false;
    if (f.system && g.target !== "system") return false;
    if (f.roleId && row.roleId !== f.roleId) return false;
    return true;
  });
}
