// The build watcher: while our records hold instances in BUILD, every few seconds it asks Nova
// (one listing of TRS servers changed since its last look, not one call per instance) and
// copies their status into the records. Without it a reserve instance that became ACTIVE stays
// BUILD in our records until the reconciler's next period (60 s by default): the reserve
// keeper's build cap, the pool's `reserve.free` and the instance lists would lag that long.
// With nothing in BUILD it makes no cloud call at all.
import type { Logger } from "pino";
import type { NovaClient } from "../cloud/nova.ts";
import type { InstanceService } from "./instances.ts";
import { TRS_TAG } from "./pools.ts";

export const BUILD_WATCH_JOB = "instances.build-watch";
/** Overlap of consecutive looks, for clock skew between us and Nova. */
const OVERLAP_MS = 5000;

export interface BuildWatcherDeps {
  /** How many live instances our records hold in BUILD. */
  building(): Promise<number>;
  instances: Pick<InstanceService, "syncFromNova">;
  nova: Pick<NovaClient, "listServers">;
  logger: Logger;
}

export class BuildWatcher {
  /** When this process last looked (a look elsewhere only makes the next one larger). */
  private lastLook?: Date;

  constructor(private readonly d: BuildWatcherDeps) {}

  /** Answers how many servers Nova reported changed (0 when nothing was building). */
  async run(): Promise<number> {
    if ((await this.d.building()) === 0) {
      this.lastLook = undefined;
      return 0;
    }
    const startedAt = new Date();
    const changesSince = this.lastLook && new Date(this.lastLook.getTime() - OVERLAP_MS);
    const servers = await this.d.nova.listServers({ tags: [TRS_TAG], allTenants: true, changesSince });
    // Deleted servers are the reconciler's: it ends their assignments and sessions too.
    const live = servers.filter((s) => s.status !== "DELETED" && s.status !== "SOFT_DELETED");
    await this.d.instances.syncFromNova(live);
    this.lastLook = startedAt;
    this.d.logger.debug({ changed: live.length, since: changesSince }, "build watch");
    return live.length;
  }
}
