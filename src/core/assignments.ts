// Assignment rules (docs/admin-api.md#users-and-groups-of-instances): users and groups must exist in Keystone; Standard pools hold one
// user per instance, Simultaneous ones up to max_users_per_instance; assigning an existing pair
// changes nothing; every change is written to the history with its actor.
// API (admin routes, broker):
//   assignUsers(instanceId, userIds, actor) / assignGroups(instanceId, groupIds, actor)
//   assignUserToServers(userId, instanceIds, actor) / assignGroupToServers(groupId, ids, actor)
//   unassignUser(instanceId, userId, actor) / unassignGroup(instanceId, groupId, actor)
//   replace(instanceId, users?, groups?, actor) / endAll(instanceId, actor, reason)
//   usersOf(instanceId) / groupsOf(instanceId) / serversOfUser(userId) / isAssigned(...)
//   checkSubjects(users, groups) → 400 when Keystone does not know one of them

import { OperationMode } from "../shared/types.ts";
import {
  type HolderRepository,
  InstanceFullError,
  InstanceGoneError,
  type UserServer,
} from "../store/holders.ts";
import type { InstanceRepository } from "../store/instances.ts";
import type { PoolRepository } from "../store/pools.ts";
import type { Directory } from "./directory.ts";
import { conflict, invalid, notFound } from "./errors.ts";

/** The open sessions of an instance, and how one is ended (with its client rules). */
export interface SessionEnder {
  openOn(instanceId: string): Promise<{ id: string; user_id: string }[]>;
  end(sessionId: string): Promise<unknown>;
}

export interface AssignmentServiceDeps {
  holders: HolderRepository;
  instances: InstanceRepository;
  pools: PoolRepository;
  directory: Directory;
  /** When given, a user who loses an instance loses their open sessions on it too. */
  sessions?: SessionEnder;
}

function translate(err: unknown): never {
  if (err instanceof InstanceFullError) {
    throw conflict(
      err.limit === 1
        ? `Instance ${err.instanceId} is in a Standard TRS project and already has a user`
        : `Instance ${err.instanceId} already has the most users its project allows (${err.limit})`,
    );
  }
  if (err instanceof InstanceGoneError) throw notFound(`TRS instance ${err.instanceId} not found`);
  throw err;
}

export class AssignmentService {
  constructor(private readonly d: AssignmentServiceDeps) {}

  private async requireInstance(id: string, asInput = false) {
    const instance = await this.d.instances.get(id);
    if (!instance)
      throw asInput ? invalid(`TRS instance ${id} not found`) : notFound(`TRS instance ${id} not found`);
    return instance;
  }

  /** The most users the instance's pool allows per instance (null: no limit). */
  private async limitFor(instanceId: string): Promise<number | null> {
    const instance = await this.requireInstance(instanceId);
    const pool = await this.d.pools.get(instance.pool_id);
    if (!pool) throw notFound(`TRS instance ${instanceId} not found`);
    return pool.operation_mode === OperationMode.Standard ? 1 : (pool.max_users_per_instance ?? null);
  }

  async checkSubjects(users: string[], groups: string[]): Promise<void> {
    const { directory } = this.d;
    const [badUsers, badGroups] = await Promise.all([
      users.length > 0 ? directory.missingUsers(users) : [],
      groups.length > 0 ? directory.missingGroups(groups) : [],
    ]);
    if (badUsers.length > 0) throw invalid(`Unknown user id(s): ${badUsers.join(", ")}`);
    if (badGroups.length > 0) throw invalid(`Unknown group id(s): ${badGroups.join(", ")}`);
  }

  private async userExists(id: string) {
    return (await this.d.directory.missingUsers([id])).length === 0;
  }

  /** Assigns users already checked in Keystone (the instance was just created). */
  async assignUsersChecked(instanceId: string, userIds: string[], actor: string | null): Promise<string[]> {
    const limit = await this.limitFor(instanceId);
    return this.d.holders.assignUsers(instanceId, userIds, { actor, limit }).catch(translate);
  }

  async assignGroupsChecked(instanceId: string, groupIds: string[], actor: string | null): Promise<string[]> {
    return this.d.holders.assignGroups(instanceId, groupIds, { actor }).catch(translate);
  }

  async assignUsers(instanceId: string, userIds: string[], actor: string | null): Promise<string[]> {
    await this.requireInstance(instanceId);
    await this.checkSubjects(userIds, []);
    return this.assignUsersChecked(instanceId, userIds, actor);
  }

  async assignGroups(instanceId: string, groupIds: string[], actor: string | null): Promise<string[]> {
    await this.requireInstance(instanceId);
    await this.checkSubjects([], groupIds);
    return this.assignGroupsChecked(instanceId, groupIds, actor);
  }

  async assignUserToServers(userId: string, instanceIds: string[], actor: string | null): Promise<void> {
    if (!(await this.userExists(userId))) throw notFound(`User ${userId} not found`);
    const limits = new Map<string, number | null>();
    for (const id of new Set(instanceIds)) {
      await this.requireInstance(id, true);
      limits.set(id, await this.limitFor(id));
    }
    if (limits.size === 0) return;
    await this.d.holders.assignUserToMany(userId, [...limits.keys()], { actor, limits }).catch(translate);
  }

  async assignGroupToServers(groupId: string, instanceIds: string[], actor: string | null): Promise<void> {
    if ((await this.d.directory.missingGroups([groupId])).length > 0)
      throw notFound(`Group ${groupId} not found`);
    const ids = [...new Set(instanceIds)];
    for (const id of ids) await this.requireInstance(id, true);
    if (ids.length === 0) return;
    await this.d.holders.assignGroupToMany(groupId, ids, { actor }).catch(translate);
  }

  async unassignUser(instanceId: string, userId: string, actor: string | null): Promise<void> {
    await this.requireInstance(instanceId);
    const removed = await this.endingLostSessions(instanceId, () =>
      this.d.holders.unassignUser(instanceId, userId, { actor }),
    );
    if (!removed) throw notFound(`User ${userId} is not assigned to instance ${instanceId}`);
  }

  async unassignGroup(instanceId: string, groupId: string, actor: string | null): Promise<void> {
    await this.requireInstance(instanceId);
    const removed = await this.endingLostSessions(instanceId, () =>
      this.d.holders.unassignGroup(instanceId, groupId, { actor }),
    );
    if (!removed) throw notFound(`Group ${groupId} is not assigned to instance ${instanceId}`);
  }

  /**
   * Runs a change that may take the instance from users, then ends the open sessions (and so
   * the client rules) of those who held it before and no longer do: an unassigned user's
   * client must not keep its way into a desktop that may go to someone else.
   */
  private async endingLostSessions<T>(instanceId: string, change: () => Promise<T>): Promise<T> {
    const ender = this.d.sessions;
    if (!ender) return change();
    const open = await ender.openOn(instanceId);
    // Each session user's groups, asked of Keystone once: the change does not move them.
    const groupsOf = new Map<string, string[]>();
    for (const s of open)
      if (!groupsOf.has(s.user_id)) groupsOf.set(s.user_id, await this.d.directory.groupsOfUser(s.user_id));
    const held = (userId: string) =>
      this.d.holders.isAssigned(instanceId, userId, groupsOf.get(userId) ?? []);
    const before = new Map<string, boolean>();
    for (const userId of groupsOf.keys()) before.set(userId, await held(userId));
    const result = await change();
    for (const [userId, wasHolder] of before) {
      if (!wasHolder || (await held(userId))) continue;
      for (const s of open) if (s.user_id === userId) await ender.end(s.id);
    }
    return result;
  }

  async replace(
    instanceId: string,
    users: string[] | undefined,
    groups: string[] | undefined,
    actor: string | null,
  ): Promise<void> {
    const limit = await this.limitFor(instanceId);
    const wanted = users === undefined ? undefined : [...new Set(users)];
    if (limit !== null && wanted && wanted.length > limit) {
      throw conflict(`Instance ${instanceId} may hold at most ${limit} user(s)`);
    }
    await this.checkSubjects(wanted ?? [], groups ?? []);
    await this.endingLostSessions(instanceId, () =>
      this.d.holders.replace(instanceId, wanted, groups, { actor, limit }).catch(translate),
    );
  }

  async endAll(instanceId: string, actor: string | null, reason: string): Promise<void> {
    await this.d.holders.endAll(instanceId, { actor, reason });
  }

  async usersOf(instanceId: string): Promise<string[]> {
    await this.requireInstance(instanceId);
    return this.d.holders.usersOf(instanceId);
  }

  async groupsOf(instanceId: string): Promise<string[]> {
    await this.requireInstance(instanceId);
    return this.d.holders.groupsOf(instanceId);
  }

  async serversOfUser(userId: string): Promise<UserServer[]> {
    const servers = await this.d.holders.serversOfUser(userId);
    // A user with instances exists as far as we are concerned; ask Keystone only otherwise.
    if (servers.length === 0 && !(await this.userExists(userId))) throw notFound(`User ${userId} not found`);
    return servers;
  }

  /** Whether the user holds the instance directly or through one of their groups. */
  async isAssigned(instanceId: string, userId: string): Promise<boolean> {
    const groups = await this.d.directory.groupsOfUser(userId);
    return this.d.holders.isAssigned(instanceId, userId, groups);
  }
}
