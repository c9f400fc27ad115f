// Failed builds made visible. An instance whose Nova server went ERROR before it ever booted
// (no launched_at) failed its build: it is logged once, with Nova's fault message, and counted
// on its pool (the pool's `reserve` shows the count and the last fault; the instance shows
// its fault). Whoever first sees the failure (the build watcher, the reconciler, a list with
// os objects, an allocation waiting for it) reports it; the store makes it once.
//   failedBuilds(servers) → the ids among Nova's servers whose build failed
//   notice(ids) → records and logs the failures not yet seen
import type { Logger } from "pino";
import type { NovaServer } from "../cloud/nova.ts";
import type { BuildFailureRepository } from "../store/build-failures.ts";

export function failedBuilds(servers: Pick<NovaServer, "id" | "status" | "launchedAt">[]): string[] {
  return servers.filter((s) => s.status === "ERROR" && !s.launchedAt).map((s) => s.id);
}

export class BuildFailureService {
  private readonly log: Logger;

  constructor(
    private readonly repo: Pick<BuildFailureRepository, "record">,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "builds" });
  }

  async notice(ids: string[]): Promise<void> {
    for (const f of await this.repo.record(ids)) {
      this.log.warn(
        { instance_id: f.id, project_id: f.pool_id, instance_name: f.name, fault: f.fault },
        `build of instance ${f.name} failed: ${f.fault ?? "Nova gave no fault message"}`,
      );
    }
  }
}
