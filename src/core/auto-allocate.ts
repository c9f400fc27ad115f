// auto-allocate-users (docs/admin-api.md#post-projectsproject_idactionsauto-allocate-users), as a task: every user with a role on the project (directly or
// through a group) who holds no instance of it directly gets one free ACTIVE instance. Group
// assignments do not count as holding one: a group's instance is shared, not the user's own.
// rs-server's service account holds a role on every pool (to create servers) and is skipped.
// API: start(poolId, actor) → task id; AUTO_ALLOCATE_TASK and run(args) are the task itself
// (registered by the composition root).
import type { Cloud } from "../cloud/cloud.ts";
import type { HolderRepository } from "../store/holders.ts";
import type { TaskService } from "../tasks/engine.ts";
import type { Directory } from "./directory.ts";
import type { InstanceService } from "./instances.ts";
import type { PoolService } from "./pools.ts";

export const AUTO_ALLOCATE_TASK = "auto_allocate_users";

export interface AutoAllocateArgs {
  project_id: string;
  /** The admin who asked (history actor). */
  actor: string | null;
}

export interface AutoAllocateResult {
  project_id: string;
  allocated: number;
  assignments: { user_id: string; instance_id: string }[];
  users_without_instance: string[];
}

export class AutoAllocateService {
  constructor(
    private readonly d: {
      tasks: Pick<TaskService, "enqueue">;
      poolService: PoolService;
      instanceService: InstanceService;
      holders: HolderRepository;
      directory: Directory;
      cloud: Pick<Cloud, "nova">;
    },
  ) {}

  async start(poolId: string, actor: string | null): Promise<string> {
    await this.d.poolService.require(poolId);
    const args: AutoAllocateArgs = { project_id: poolId, actor };
    return this.d.tasks.enqueue(AUTO_ALLOCATE_TASK, { ...args });
  }

  async run(args: AutoAllocateArgs): Promise<AutoAllocateResult> {
    const poolId = args.project_id;
    await this.d.poolService.require(poolId);
    // Only ACTIVE instances are handed out: refresh our statuses with one Nova listing first.
    await this.d.instanceService.syncFromNova(await this.d.cloud.nova.listServers({ projectId: poolId }));
    const [members, holders, service] = await Promise.all([
      this.d.directory.userIdsOnProject(poolId),
      this.d.holders.usersWithInstance(poolId),
      this.d.directory.serviceUserId(),
    ]);
    const holding = new Set([...holders, service]);
    const waiting = [...new Set(members)].filter((u) => !holding.has(u)).sort();
    const assignments: AutoAllocateResult["assignments"] = [];
    const left: string[] = [];
    for (const userId of waiting) {
      const instanceId =
        left.length > 0
          ? undefined
          : await this.d.holders.claimFree(poolId, userId, {
              actor: args.actor,
              reason: "auto-allocate-users",
            });
      if (instanceId) assignments.push({ user_id: userId, instance_id: instanceId });
      else left.push(userId);
    }
    return { project_id: poolId, allocated: assignments.length, assignments, users_without_instance: left };
  }
}
