// The reserve keeper: keeps the target in effect of free instances in each pool, so that a
// user's request finds a desktop already built. The target is min_reserve_vm, or the pool's
// reserve schedule's (core/reserve-schedule.ts: windows, filled reserve.leadSeconds ahead,
// each with an optional cap of live instances). Per pool it creates the deficit in batched
// Nova requests (the instance service), bounded by the project's Nova quota headroom for the
// pool's flavor, the window's cap and the global cap of builds in flight. Surplus beyond the
// target (a window closed) is deleted at most reserve.releasePerRun per run, and only free
// instances: no user, no group, no open session.
// The build circuit: a pool whose builds keep failing (ERROR, or stuck in BUILD and removed by
// the reconciler) opens it after reserve.circuitFailures failed builds: no builds for a
// back-off growing with each opening (state backoff, with Nova's fault in reserve_message, a
// log line, rs_reserve_circuit), then one probe build (state half_open): the circuit closes
// when the probe is ACTIVE, and opens again, for longer, when it fails. Failures are forgotten
// once the reserve holds ACTIVE instances: builds merely in flight prove nothing yet.
//   keeper.run()         → every pool (the periodic job)
//   keeper.refill(pool)  → one pool; undefined when another keeper holds it
//   keeper.buildsFailed(poolId, n, cause) → builds that failed outside a refill (the reconciler)
//   (deps.requestReserve() triggers RESERVE_JOB after an allocation or a pool change)
import type { Logger } from "pino";
import type { NovaClient } from "../cloud/nova.ts";
import type { Pool, PoolRepository } from "../store/pools.ts";
import type { ReserveRepository } from "../store/reserve.ts";
import { type InstanceService, MAX_BATCH } from "./instances.ts";
import type { Metrics } from "./metrics.ts";
import type { Readiness } from "./readiness.ts";
import { type InEffect, scheduleOf, targetInEffect } from "./reserve-schedule.ts";

export const RESERVE_JOB = "reserve.keeper";
export const RESERVE_ACTOR = "reserve";
/** The longest back-off, whatever the number of failures. */
const MAX_BACKOFF_SECONDS = 3600;

export interface ReserveKeeperDeps {
  reserve: Pick<
    ReserveRepository,
    | "withPoolLock"
    | "whilePoolLocked"
    | "failedFree"
    | "freeCounts"
    | "buildsInFlight"
    | "setState"
    | "liveCount"
    | "takeSurplus"
  >;
  pools: Pick<PoolRepository, "list" | "get">;
  instances: Pick<InstanceService, "create" | "remove">;
  nova: Pick<NovaClient, "getFlavor" | "headroom">;
  metrics: Pick<Metrics, "reserveCreate" | "reserveFailure">;
  logger: Logger;
  intervalSeconds: number;
  maxConcurrentBuilds: number;
  /** Fill this long ahead of a schedule's window (reserve.leadSeconds). */
  leadSeconds?: number;
  /** Most surplus instances deleted per pool and run (reserve.releasePerRun). */
  releasePerRun?: number;
  /** Failed builds that open the circuit (reserve.circuitFailures). */
  circuitFailures?: number;
  /** Instances waiting to be ready are looked at on each run (tcp mode needs it). */
  readiness?: Pick<Readiness, "check">;
  now?: () => Date;
}

/** The reserve_state of a pool whose circuit is open, and of one probing with one build. */
export const CIRCUIT_OPEN = "backoff";
export const CIRCUIT_HALF_OPEN = "half_open";

export interface RefillOutcome {
  free: number;
  target: number;
  created: number;
  /** Nova create requests made (one per batch). */
  requests: number;
  /** Surplus free instances deleted (beyond the target in effect). */
  released?: number;
  /** Why fewer than the deficit were created. */
  limitedBy?: "quota" | "builds" | "backoff" | "network" | "half_open" | "max_instances" | "draining";
}

export class ReserveKeeper {
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(private readonly d: ReserveKeeperDeps) {
    this.log = d.logger.child({ component: "reserve" });
    this.now = d.now ?? (() => new Date());
  }

  /** The pool's target in effect now (its schedule's, else min_reserve_vm). */
  targetOf(pool: Pool): InEffect {
    return targetInEffect(
      scheduleOf(pool.reserve_schedule),
      pool.min_reserve_vm,
      this.now(),
      (this.d.leadSeconds ?? 0) * 1000,
    );
  }

  async run(signal?: AbortSignal): Promise<void> {
    await this.d.readiness?.check().catch((err) => this.log.warn({ err }, "readiness check failed"));
    for (const pool of await this.d.pools.list()) {
      if (signal?.aborted) return;
      // A schedule may ask for instances, or release them, whatever min_reserve_vm says.
      if (pool.min_reserve_vm <= 0 && !scheduleOf(pool.reserve_schedule)) continue;
      try {
        await this.refill(pool);
      } catch (err) {
        this.log.error({ err, pool: pool.id }, "reserve refill failed");
      }
    }
  }

  async refill(pool: Pool): Promise<RefillOutcome | undefined> {
    return this.d.reserve.withPoolLock(pool.id, () => this.refillLocked(pool));
  }

  private async refillLocked(stale: Pool): Promise<RefillOutcome> {
    // Read again under the lock: another keeper may have just changed its state.
    const pool = (await this.d.pools.get(stale.id)) ?? stale;
    const { target, maxInstances } = this.targetOf(pool);
    // A draining pool is not refilled (core/drain.ts).
    if (pool.draining) return { free: 0, target, created: 0, requests: 0, limitedBy: "draining" };
    const failed = await this.d.reserve.failedFree(pool.id);
    if (failed.length > 0) return this.backOff(pool, target, failed.length, failed[0].fault);
    const { active, building } = await this.d.reserve.freeCounts(pool.id);
    const free = active + building;
    const outcome: RefillOutcome = { free, target, created: 0, requests: 0 };
    const live = maxInstances === null ? 0 : await this.d.reserve.liveCount(pool.id);
    const overCap = maxInstances === null ? 0 : live - maxInstances;
    // Only a schedule releases (a window closed, or its cap): without one the keeper never
    // deletes what an operator made (POST /v1/servers), as the reference's reserve never did.
    const scheduled = scheduleOf(pool.reserve_schedule) !== null;
    if (scheduled && (free > target || overCap > 0)) {
      outcome.released = await this.release(pool, Math.max(free - target, Math.min(free, overCap)));
      outcome.free = free - outcome.released;
    }
    if (pool.reserve_state === CIRCUIT_HALF_OPEN) {
      // The probe is still building: wait for it. Gone from BUILD without failing (ACTIVE, or
      // handed to a user): the builds work again, the circuit closes.
      if (building > 0) {
        await this.setState(
          pool,
          CIRCUIT_HALF_OPEN,
          pool.reserve_failures,
          null,
          pool.reserve_message,
          pool.reserve_failed_builds,
        );
        return { ...outcome, limitedBy: "half_open" };
      }
      this.log.info({ pool: pool.id }, "reserve build circuit closes: the probe build succeeded");
      pool.reserve_failures = 0;
      pool.reserve_failed_builds = 0;
      await this.setState(pool, "ok", 0, null, null, 0);
    }
    const deficit = target - free;
    if (deficit <= 0) {
      // Full. Past failures are forgotten only once the builds succeeded (ACTIVE): builds
      // still in flight may hang or fail like the ones before, and the back-off must grow then.
      if (active >= target || (pool.reserve_failures === 0 && pool.reserve_failed_builds === 0)) {
        await this.setState(pool, "ok", 0, null, null, 0);
      } else {
        const note = `${building} build(s) in progress after ${pool.reserve_failed_builds || pool.reserve_failures} failed build(s)`;
        await this.setState(pool, "ok", pool.reserve_failures, null, note, pool.reserve_failed_builds);
      }
      return outcome;
    }
    const open = pool.reserve_state === CIRCUIT_OPEN;
    if (open && pool.reserve_backoff_until && pool.reserve_backoff_until > this.now()) {
      return { ...outcome, limitedBy: "backoff" };
    }
    if (!pool.network_id) {
      await this.setState(
        pool,
        "blocked",
        pool.reserve_failures,
        null,
        "The project has no network_id",
        pool.reserve_failed_builds,
      );
      return { ...outcome, limitedBy: "network" };
    }
    const budget = this.d.maxConcurrentBuilds - (await this.d.reserve.buildsInFlight());
    const flavor = await this.d.nova.getFlavor(pool.flavor_id);
    const headroom = await this.d.nova.headroom(pool.id, flavor);
    const room = headroom.servers ?? Number.POSITIVE_INFINITY;
    const capRoom = maxInstances === null ? Number.POSITIVE_INFINITY : Math.max(0, maxInstances - live);
    // After a back-off, one probe build: the circuit is half-open until it is ACTIVE or fails.
    const wanted = open ? 1 : deficit;
    let n = Math.min(wanted, Math.max(0, budget), room, capRoom);
    if (n < wanted) {
      outcome.limitedBy =
        capRoom <= Math.min(room, Math.max(0, budget))
          ? "max_instances"
          : room <= Math.max(0, budget)
            ? "quota"
            : "builds";
    }
    try {
      while (n > 0) {
        const count = Math.min(n, MAX_BATCH);
        const { ids } = await this.d.instances.create({ projectId: pool.id, count }, RESERVE_ACTOR);
        outcome.requests += 1;
        outcome.created += ids.length;
        this.d.metrics.reserveCreate(pool.id, ids.length);
        n -= count;
      }
    } catch (err) {
      this.log.warn({ err, pool: pool.id, created: outcome.created }, "reserve create failed");
      await this.backOff(pool, target, 1, (err as Error).message);
      return { ...outcome, limitedBy: "backoff" };
    }
    if (outcome.created > 0) {
      this.log.info(
        { pool: pool.id, created: outcome.created, requests: outcome.requests, target },
        open ? "reserve build circuit half-open: one probe build" : "reserve refilled",
      );
    }
    if (open) {
      const note = `Probing with one build (half-open) after failure ${pool.reserve_failures} of the build circuit; Nova's last fault: ${pool.last_build_failure ?? "none given"}`;
      await this.setState(
        pool,
        CIRCUIT_HALF_OPEN,
        pool.reserve_failures,
        null,
        note,
        pool.reserve_failed_builds,
      );
      return { ...outcome, free: free + outcome.created, limitedBy: "half_open" };
    }
    const note =
      outcome.limitedBy === "quota"
        ? `Nova quota (${headroom.limitedBy}) of project ${pool.id} leaves room for ${outcome.created} of ${deficit} missing instance(s)`
        : outcome.limitedBy === "builds"
          ? `The cap of ${this.d.maxConcurrentBuilds} concurrent builds holds back ${deficit - outcome.created} instance(s)`
          : outcome.limitedBy === "max_instances"
            ? `The schedule's max_instances (${maxInstances}) holds back ${deficit - outcome.created} instance(s)`
            : null;
    // Failures are forgotten once the reserve is full of ACTIVE instances, not when Nova merely
    // accepted a batch: those builds may fail too, and the back-off must keep growing if they do.
    const state =
      outcome.limitedBy === "quota"
        ? "quota"
        : outcome.limitedBy === "builds" || outcome.limitedBy === "max_instances"
          ? "throttled"
          : "ok";
    await this.setState(pool, state, pool.reserve_failures, null, note, pool.reserve_failed_builds);
    return { ...outcome, free: outcome.free + outcome.created };
  }

  /** Deletes up to `surplus` free instances (at most releasePerRun): answers how many. */
  private async release(pool: Pool, surplus: number): Promise<number> {
    const n = Math.min(surplus, this.d.releasePerRun ?? 5);
    const ids = await this.d.reserve.takeSurplus(pool.id, n);
    let released = 0;
    for (const id of ids) {
      try {
        await this.d.instances.remove(id, RESERVE_ACTOR);
        released += 1;
      } catch (err) {
        this.log.warn({ err, instance: id }, "cannot release a surplus reserve instance");
      }
    }
    if (released > 0) this.log.info({ pool: pool.id, released }, "reserve released surplus instances");
    return released;
  }

  /**
   * Builds of the pool that failed outside a refill: stuck in BUILD past the timeout, deleted by
   * the reconciler. They count as failed builds of the pool, as ERROR ones do (the same back-off,
   * state and metric). Waits for the pool's lock, so that a refill in progress cannot write
   * over the back-off. A pool without a reserve (min_reserve_vm 0) has no reserve to hold back.
   */
  async buildsFailed(poolId: string, failures: number, cause: string): Promise<void> {
    if (failures <= 0) return;
    await this.d.reserve.whilePoolLocked(poolId, async () => {
      const pool = await this.d.pools.get(poolId);
      if (!pool) return;
      const { target } = this.targetOf(pool);
      if (target <= 0 && pool.reserve_state !== CIRCUIT_HALF_OPEN) return;
      await this.backOff(pool, target, failures, cause);
    });
  }

  /**
   * Failed builds: remove the broken free instances (they hold quota); the circuit opens once
   * reserve.circuitFailures builds failed (at once if it was probing), for a back-off that
   * grows with each opening.
   */
  private async backOff(pool: Pool, target: number, failures: number, cause: string | null) {
    for (const f of await this.d.reserve.failedFree(pool.id)) {
      await this.d.instances.remove(f.id, RESERVE_ACTOR).catch((err) => {
        this.log.warn({ err, instance: f.id }, "cannot remove a failed reserve instance");
      });
    }
    this.d.metrics.reserveFailure(pool.id);
    const failedBuilds = pool.reserve_failed_builds + failures;
    const threshold = this.d.circuitFailures ?? 1;
    const probing = pool.reserve_state === CIRCUIT_HALF_OPEN || pool.reserve_state === CIRCUIT_OPEN;
    if (!probing && failedBuilds < threshold) {
      const message = `${failedBuilds} build(s) failed${cause ? `: ${cause}` : ""}; the build circuit opens after ${threshold}`;
      this.log.warn({ pool: pool.id, failed_builds: failedBuilds, fault: cause }, "reserve builds failed");
      await this.setState(pool, "ok", pool.reserve_failures, null, message, failedBuilds);
    } else {
      const count = pool.reserve_failures + 1;
      const seconds = Math.min(MAX_BACKOFF_SECONDS, this.d.intervalSeconds * 2 ** count);
      const until = new Date(this.now().getTime() + seconds * 1000);
      const message = `${failures} build(s) failed${cause ? `: ${cause}` : ""}; retrying after ${until.toISOString()} (failure ${count})`;
      this.log.warn(
        { pool: pool.id, failures: count, failed_builds: failedBuilds, until, fault: cause },
        `reserve build circuit opens for pool ${pool.id}: ${cause ?? "builds failed"}`,
      );
      await this.setState(pool, CIRCUIT_OPEN, count, until, message, failedBuilds);
    }
    const { active, building } = await this.d.reserve.freeCounts(pool.id);
    return { free: active + building, target, created: 0, requests: 0, limitedBy: "backoff" as const };
  }

  private async setState(
    pool: Pool,
    state: string,
    failures: number,
    until: Date | null,
    message: string | null,
    failedBuilds: number,
  ) {
    if (
      pool.reserve_failed_builds === failedBuilds &&
      pool.reserve_state === state &&
      pool.reserve_failures === failures &&
      pool.reserve_message === message &&
      (pool.reserve_backoff_until?.getTime() ?? null) === (until?.getTime() ?? null)
    ) {
      return;
    }
    await this.d.reserve.setState(pool.id, { state, failures, backoffUntil: until, message, failedBuilds });
  }
}
