// The reconciler: once per period it compares our instance records with Nova's servers tagged
// `trs` in every project (one listing, not one call per instance) and acts on the differences:
//   gone        a record whose server is no longer in Nova → its open sessions closed (client
//               rules removed), assignments ended (history kept), the record marked deleted
//   adopted     a TRS-tagged server of a TRS project we have no record of → recorded as free
//   stuck_build a server in BUILD past allocation.buildTimeoutSeconds → deleted in Nova and
//               marked, counted as a failed build of its pool (the reserve keeper's back-off,
//               so that a pool whose builds always hang does not loop), then replaced by the
//               reserve keeper once the pool is not backing off
//   refreshed   status / IP of the others copied from Nova (instances.syncFromNova)
//   ended       an instance already marked deleted (an allocation found it gone, then the
//               process died) that still has users, groups or open sessions → released as gone
//   unstarted   a request still pending past reconcile.pendingRequestSeconds whose task was
//               never created → failed with code 4 (task not started), so no client polls forever
//   group_deleted the per-instance security group (trs-instance-<id>) of an instance our records
//               mark deleted, in its pool's project → deleted in Neutron (one listing per run, at
//               most GROUP_SWEEP deletes; "in use" while Nova frees the port is retried next run)
// Every action is logged and counted in the metrics.
import type { Logger } from "pino";
import { isCloudError } from "../cloud/http.ts";
import type { NeutronClient } from "../cloud/neutron.ts";
import type { NovaClient, NovaServer } from "../cloud/nova.ts";
import type { InstanceRepository } from "../store/instances.ts";
import type { ReconcileRepository } from "../store/reconcile.ts";
import type { AssignmentService } from "./assignments.ts";
import { BrokerCode } from "./broker-error.ts";
import type { InstanceService } from "./instances.ts";
import type { Metrics } from "./metrics.ts";
import { TRS_TAG } from "./pools.ts";
import { INSTANCE_GROUP_PREFIX, type UserResources } from "./user-resources.ts";

export const RECONCILE_JOB = "reconciler";
export const RECONCILER_ACTOR = "reconciler";

export interface ReconcilerDeps {
  repo: ReconcileRepository;
  instances: InstanceService;
  instanceRecords: InstanceRepository;
  assignments: AssignmentService;
  resources: Pick<UserResources, "closeSession">;
  nova: Pick<NovaClient, "listServers" | "deleteServer">;
  neutron: Pick<NeutronClient, "listSecurityGroupNames" | "deleteSecurityGroup">;
  metrics: Metrics;
  logger: Logger;
  buildTimeoutSeconds: number;
  /** A pending request without a task older than this is ended with code 4 (default 300 s). */
  pendingRequestSeconds?: number;
  /**
   * A server younger than this is not adopted: between Nova's create answer and our insert
   * it is ours without a record yet (default 60 s).
   */
  adoptAfterSeconds?: number;
  /**
   * Told, per pool, of its builds just removed for being stuck: the reserve keeper counts them
   * as failed builds (ReserveKeeper.buildsFailed), before onReplaced.
   */
  onStuckBuilds?: (poolId: string, count: number, cause: string) => Promise<void>;
  /** Called after stuck builds were removed (the reserve keeper replaces them). */
  onReplaced?: () => Promise<void>;
  now?: () => Date;
}

export interface ReconcileReport {
  gone: string[];
  adopted: string[];
  stuckBuild: string[];
  refreshed: number;
  ended: string[];
  unstarted: string[];
  /** Ids of the per-instance security groups deleted. */
  groupsDeleted: string[];
}

/** Per run: a backlog is worked off over several runs rather than in one long one. */
const BATCH = 200;
/** Security group deletes per run, at most. */
const GROUP_SWEEP = 50;

export class Reconciler {
  private readonly log: Logger;
  private readonly now: () => Date;
  /** Where the next group sweep starts: groups that stay in use do not starve the others. */
  private groupCursor = 0;

  constructor(private readonly d: ReconcilerDeps) {
    this.log = d.logger.child({ component: "reconciler" });
    this.now = d.now ?? (() => new Date());
  }

  async run(signal?: AbortSignal): Promise<ReconcileReport> {
    // Records first, listing second: a record inserted after the listing started would
    // otherwise look gone.
    const records = await this.d.repo.liveInstances();
    const servers = await this.d.nova.listServers({ tags: [TRS_TAG], allTenants: true });
    const report: ReconcileReport = {
      gone: [],
      adopted: [],
      stuckBuild: [],
      refreshed: 0,
      ended: [],
      unstarted: [],
      groupsDeleted: [],
    };
    const byId = new Map(servers.filter((s) => s.status !== "DELETED").map((s) => [s.id, s]));
    const now = this.now().getTime();
    const stuckPerPool = new Map<string, number>();

    for (const record of records) {
      if (signal?.aborted) return report;
      const server = byId.get(record.id);
      if (!server) {
        await this.release(record.id, "gone from Nova");
        report.gone.push(record.id);
        this.log.info(
          { instance: record.id, pool: record.pool_id },
          "instance gone from Nova: marked deleted",
        );
        continue;
      }
      const started = Date.parse(server.created) || record.created_at.getTime();
      if (server.status === "BUILD" && now - started > this.d.buildTimeoutSeconds * 1000) {
        await this.d.nova.deleteServer(record.id, { ignoreNotFound: true });
        await this.release(record.id, "stuck in BUILD");
        report.stuckBuild.push(record.id);
        stuckPerPool.set(record.pool_id, (stuckPerPool.get(record.pool_id) ?? 0) + 1);
        this.log.warn(
          { instance: record.id, pool: record.pool_id, since: server.created },
          "stuck build deleted",
        );
      }
    }

    const known = new Set(records.map((r) => r.id));
    const current = records.filter((r) => byId.has(r.id) && !report.stuckBuild.includes(r.id));
    const changed = current.filter((r) => {
      const s = byId.get(r.id) as NovaServer;
      return s.status !== r.status;
    });
    await this.d.instances.syncFromNova(current.map((r) => byId.get(r.id) as NovaServer));
    report.refreshed = changed.length;

    report.adopted = await this.adopt(
      servers.filter((s) => !known.has(s.id) && s.status !== "DELETED"),
      now,
    );

    report.ended = await this.endLeftovers(signal);
    report.unstarted = await this.d.repo.failUnstartedRequests(
      new Date(now - (this.d.pendingRequestSeconds ?? 300) * 1000),
      BrokerCode.TaskNotStarted,
      BATCH,
    );
    for (const id of report.unstarted)
      this.log.warn({ request_id: id }, "request whose task never started: failed with code 4");
    report.groupsDeleted = await this.sweepGroups(signal);

    this.d.metrics.reconcilerAction("gone", report.gone.length);
    this.d.metrics.reconcilerAction("stuck_build", report.stuckBuild.length);
    this.d.metrics.reconcilerAction("adopted", report.adopted.length);
    this.d.metrics.reconcilerAction("refreshed", report.refreshed);
    this.d.metrics.reconcilerAction("ended", report.ended.length);
    this.d.metrics.reconcilerAction("unstarted_request", report.unstarted.length);
    this.d.metrics.reconcilerAction("group_deleted", report.groupsDeleted.length);
    await this.countFailures(stuckPerPool);
    if (report.stuckBuild.length > 0 && this.d.onReplaced) await this.d.onReplaced();
    return report;
  }

  /** Stuck builds are failed builds of their pool: its reserve backs off before replacing them. */
  private async countFailures(stuckPerPool: Map<string, number>): Promise<void> {
    if (!this.d.onStuckBuilds) return;
    const cause = `stuck in BUILD for more than ${this.d.buildTimeoutSeconds} s`;
    for (const [poolId, count] of stuckPerPool) {
      await this.d.onStuckBuilds(poolId, count, cause).catch((err) => {
        this.log.error({ err, pool: poolId }, "cannot count stuck builds as failures of the pool");
      });
    }
  }

  /** Unknown TRS servers of our pools, old enough not to be a create still being recorded. */
  private async adopt(unknown: NovaServer[], now: number): Promise<string[]> {
    if (unknown.length === 0) return [];
    const pools = await this.d.repo.poolIds();
    const graceMs = (this.d.adoptAfterSeconds ?? 60) * 1000;
    const candidates = unknown.filter(
      (s) => pools.has(s.projectId) && now - (Date.parse(s.created) || now) >= graceMs,
    );
    // Deleted by us already (Nova still finishing), or recorded since the listing: not orphans.
    const recorded = await this.d.repo.recordedIds(candidates.map((s) => s.id));
    const orphans = candidates.filter((s) => !recorded.has(s.id));
    if (orphans.length === 0) return [];
    await this.d.instanceRecords.insertMany(
      orphans.map((s) => ({
        id: s.id,
        pool_id: s.projectId,
        name: s.name,
        description: null,
        image_id: s.imageId || null,
        reservation_id:
          typeof s.raw["OS-EXT-SRV-ATTR:reservation_id"] === "string"
            ? s.raw["OS-EXT-SRV-ATTR:reservation_id"]
            : null,
      })),
    );
    await this.d.instances.syncFromNova(orphans);
    for (const s of orphans) this.log.info({ instance: s.id, pool: s.projectId }, "TRS server adopted");
    return orphans.map((s) => s.id);
  }

  /** Deleted instances still held: released like a gone one (sessions closed, assignments ended). */
  private async endLeftovers(signal?: AbortSignal): Promise<string[]> {
    const ids = await this.d.repo.deletedWithHolders(BATCH);
    const ended: string[] = [];
    for (const id of ids) {
      if (signal?.aborted) break;
      await this.release(id, "instance deleted");
      ended.push(id);
      this.log.info({ instance: id }, "deleted instance still held: assignments ended");
    }
    return ended;
  }

  /**
   * Deletes the per-instance security groups of instances our records mark deleted (the
   * deletions themselves, wherever they happen, leave the group behind). A group is only
   * touched when its name carries the id of such an instance and it is in that instance's pool
   * project: never the group of a live or an unknown instance. Neutron's 409 while the
   * instance's port still holds the group is retried on a later run. A failing listing or
   * delete is logged and leaves the rest of the run alone.
   */
  private async sweepGroups(signal?: AbortSignal): Promise<string[]> {
    const deleted: string[] = [];
    let groups: { id: string; name: string; projectId: string; instanceId: string }[];
    try {
      groups = (await this.d.neutron.listSecurityGroupNames())
        .filter((g) => g.name.startsWith(INSTANCE_GROUP_PREFIX))
        .map((g) => ({ ...g, instanceId: g.name.slice(INSTANCE_GROUP_PREFIX.length) }))
        .filter((g) => g.instanceId !== "");
    } catch (err) {
      this.log.warn({ err }, "cannot list security groups: per-instance groups not swept this run");
      return deleted;
    }
    const pools = await this.d.repo.deletedIds([...new Set(groups.map((g) => g.instanceId))]);
    const candidates = groups
      .filter((g) => pools.get(g.instanceId) === g.projectId)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (candidates.length === 0) return deleted;
    const start = this.groupCursor % candidates.length;
    const turn = [...candidates.slice(start), ...candidates.slice(0, start)].slice(0, GROUP_SWEEP);
    this.groupCursor = start + turn.length;
    for (const g of turn) {
      if (signal?.aborted) break;
      try {
        // Already gone (404): nothing to count.
        if (!(await this.d.neutron.deleteSecurityGroup(g.id, { ignoreNotFound: true }))) continue;
        deleted.push(g.id);
        this.log.info(
          { group: g.id, instance: g.instanceId, pool: g.projectId },
          "security group of a deleted instance removed",
        );
      } catch (err) {
        if (isCloudError(err, "conflict")) {
          // Nova has not yet freed the instance's port, which still holds the group.
          this.log.debug({ group: g.id, instance: g.instanceId }, "security group still in use: next run");
        } else {
          this.log.warn({ err, group: g.id, instance: g.instanceId }, "cannot delete a security group");
        }
      }
    }
    return deleted;
  }

  /** The instance is gone (or going): its user resources released, its history kept. */
  private async release(id: string, reason: string): Promise<void> {
    for (const sessionId of await this.d.repo.openSessionsOf(id)) {
      await this.d.resources.closeSession(sessionId);
      this.d.metrics.reconcilerAction("session_closed");
    }
    await this.d.assignments.endAll(id, RECONCILER_ACTOR, reason);
    await this.d.instanceRecords.markDeleted(id);
  }
}
