// Pool statistics (docs/admin-api.md#get-projectsproject_idstatistics): created/active/error_servers count every Nova server of the
// project (one Nova listing); the *_trs_servers counts come from our records, refreshed from
// that same listing first.
import type { Cloud } from "../cloud/cloud.ts";
import type { InstanceRepository } from "../store/instances.ts";
import type { InstanceService } from "./instances.ts";
import type { PoolService } from "./pools.ts";

export interface PoolStatistics {
  created_servers: number;
  active_servers: number;
  error_servers: number;
  created_trs_servers: number;
  active_trs_servers: number;
  error_trs_servers: number;
  free_trs_servers: number;
  occupied_trs_servers: number;
  simultaneous_trs_servers: number;
}

export class StatisticsService {
  constructor(
    private readonly d: {
      poolService: PoolService;
      instanceService: InstanceService;
      instances: InstanceRepository;
      cloud: Pick<Cloud, "nova">;
    },
  ) {}

  async of(poolId: string): Promise<PoolStatistics> {
    await this.d.poolService.require(poolId);
    const servers = (await this.d.cloud.nova.listServers({ projectId: poolId })).filter(
      (s) => s.status !== "DELETED",
    );
    await this.d.instanceService.syncFromNova(servers);
    const trs = await this.d.instances.poolCounts(poolId);
    return {
      created_servers: servers.length,
      active_servers: servers.filter((s) => s.status === "ACTIVE").length,
      error_servers: servers.filter((s) => s.status === "ERROR").length,
      created_trs_servers: trs.created,
      active_trs_servers: trs.active,
      error_trs_servers: trs.error,
      free_trs_servers: trs.free,
      occupied_trs_servers: trs.occupied,
      simultaneous_trs_servers: trs.simultaneous,
    };
  }
}
