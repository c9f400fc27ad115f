// The reserve keeper: keeps min_reserve_vm free instances in each pool, so that a user's
// request finds a desktop already built. Per pool it creates the deficit in batched Nova
// requests (the instance service), bounded by the project's Nova quota headroom for the
// pool's flavor and by the global cap of builds in flight. It never deletes surplus.
// A pool whose builds keep failing (ERROR, or stuck in BUILD and removed by the reconciler)
// backs off exponentially instead of looping (create, fail, create...), and says why in
// pools.reserve_state / reserve_message. The failures are forgotten once the reserve is full
// of ACTIVE instances: builds merely in flight prove nothing yet.
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

export const RESERVE_JOB = "reserve.keeper";
export const RESERVE_ACTOR = "reserve";
/** The longest back-off, whatever the number of failures. */
const MAX_BACKOFF_SECONDS = 3600;

export interface ReserveKeeperDeps {
  reserve: Pick<
    ReserveRepository,
    "withPoolLock" | "whilePoolLocked" | "failedFree" | "freeCounts" | "buildsInFlight" | "setState"
  >;
  pools: Pick<PoolRepository, "list" | "get">;
  instances: Pick<InstanceService, "create" | "remove">;
  nova: Pick<NovaClient, "getFlavor" | "headroom">;
  metrics: Pick<Metrics, "reserveCreate" | "reserveFailure">;
  logger: Logger;
  intervalSeconds: number;
  maxConcurrentBuilds: number;
  now?: () => Date;
}

export interface RefillOutcome {
  free: number;
  target: number;
  created: number;
  /** Nova create requests made (one per batch). */
  requests: number;
  /** Why fewer than the deficit were created. */
  limitedBy?: "quota" | "builds" | "backoff" | "network";
}

export class ReserveKeeper {
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(private readonly d: ReserveKeeperDeps) {
    this.log = d.logger.child({ component: "reserve" });
    this.now = d.now ?? (() => new Date());
  }

  async run(signal?: AbortSignal): Promise<void> {
    for (const pool of await this.d.pools.list()) {
      if (signal?.aborted) return;
      if (pool.min_reserve_vm <= 0) continue;
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
    const target = pool.min_reserve_vm;
    const failed = await this.d.reserve.failedFree(pool.id);
    if (failed.length > 0) return this.backOff(pool, target, failed.length, failed[0].fault);
    const { active, building } = await this.d.reserve.freeCounts(pool.id);
    const free = active + building;
    const outcome: RefillOutcome = { free, target, created: 0, requests: 0 };
    const deficit = target - free;
    if (deficit <= 0) {
      // Full. Past failures are forgotten only once the builds succeeded (ACTIVE): builds
      // still in flight may hang or fail like the ones before, and the back-off must grow then.
      if (active >= target || pool.reserve_failures === 0) {
        await this.setState(pool, "ok", 0, null, null);
      } else {
        const note = `${building} build(s) in progress after ${pool.reserve_failures} failed attempt(s)`;
        await this.setState(pool, "ok", pool.reserve_failures, null, note);
      }
      return outcome;
    }
    if (pool.reserve_backoff_until && pool.reserve_backoff_until > this.now()) {
      return { ...outcome, limitedBy: "backoff" };
    }
    if (!pool.network_id) {
      await this.setState(pool, "blocked", pool.reserve_failures, null, "The project has no network_id");
      return { ...outcome, limitedBy: "network" };
    }
    const budget = this.d.maxConcurrentBuilds - (await this.d.reserve.buildsInFlight());
    const flavor = await this.d.nova.getFlavor(pool.flavor_id);
    const headroom = await this.d.nova.headroom(pool.id, flavor);
    const room = headroom.servers ?? Number.POSITIVE_INFINITY;
    let n = Math.min(deficit, Math.max(0, budget), room);
    if (n < deficit) outcome.limitedBy = room <= Math.max(0, budget) ? "quota" : "builds";
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
        { pool: pool.id, created: outcome.created, requests: outcome.requests },
        "reserve refilled",
      );
    }
    const note =
      outcome.limitedBy === "quota"
        ? `Nova quota (${headroom.limitedBy}) of project ${pool.id} leaves room for ${outcome.created} of ${deficit} missing instance(s)`
        : outcome.limitedBy === "builds"
          ? `The cap of ${this.d.maxConcurrentBuilds} concurrent builds holds back ${deficit - outcome.created} instance(s)`
          : null;
    // Failures are forgotten once the reserve is full of ACTIVE instances, not when Nova merely
    // accepted a batch: those builds may fail too, and the back-off must keep growing if they do.
    const state =
      outcome.limitedBy === "quota" ? "quota" : outcome.limitedBy === "builds" ? "throttled" : "ok";
    await this.setState(pool, state, pool.reserve_failures, null, note);
    return { ...outcome, free: free + outcome.created };
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
      if (!pool || pool.min_reserve_vm <= 0) return;
      await this.backOff(pool, pool.min_reserve_vm, failures, cause);
    });
  }

  /** Failed builds: remove the broken free instances (they hold quota) and wait longer each time. */
  private async backOff(pool: Pool, target: number, failures: number, cause: string | null) {
    for (const f of await this.d.reserve.failedFree(pool.id)) {
      await this.d.instances.remove(f.id, RESERVE_ACTOR).catch((err) => {
        this.log.warn({ err, instance: f.id }, "cannot remove a failed reserve instance");
      });
    }
    const count = pool.reserve_failures + 1;
    const seconds = Math.min(MAX_BACKOFF_SECONDS, this.d.intervalSeconds * 2 ** count);
    const until = new Date(this.now().getTime() + seconds * 1000);
    const message = `${failures} build(s) failed${cause ? `: ${cause}` : ""}; retrying after ${until.toISOString()} (failure ${count})`;
    this.d.metrics.reserveFailure(pool.id);
    this.log.warn({ pool: pool.id, failures: count, until }, "reserve backs off");
    await this.setState(pool, "backoff", count, until, message);
    const { active, building } = await this.d.reserve.freeCounts(pool.id);
    return { free: active + building, target, created: 0, requests: 0, limitedBy: "backoff" as const };
  }

  private async setState(
    pool: Pool,
    state: string,
    failures: number,
    until: Date | null,
    message: string | null,
  ) {
    if (
      pool.reserve_state === state &&
      pool.reserve_failures === failures &&
      pool.reserve_message === message &&
      (pool.reserve_backoff_until?.getTime() ?? null) === (until?.getTime() ?? null)
    ) {
      return;
    }
    await this.d.reserve.setState(pool.id, { state, failures, backoffUntil: until, message });
  }
}
