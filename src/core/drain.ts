// Drain (issue 16): a pool or a single instance taken out of service without cutting anyone
// off. While draining:
//   - no new allocation goes to it: the claim protocol gives no new holder (store/holders.ts)
//     and the allocation creates no instance in a draining pool, so a user with no desktop
//     there gets broker code 14 with the reason in the request's steps;
//   - a user who already holds a desktop of it keeps getting that desktop from request-vm and
//     get-vm, and every open session goes on: nothing is closed, unassigned or deleted;
//   - the reserve keeper does not refill a draining pool, and a draining instance does not
//     count as free in its pool's reserve (the keeper replaces it).
// `undrain` reverses it. API: drainPool / undrainPool / drainInstance / undrainInstance.
import type { Logger } from "pino";
import type { DrainRepository } from "../store/drain.ts";
import type { Instance } from "../store/instances.ts";
import type { Pool } from "../store/pools.ts";
import { invalid, notFound } from "./errors.ts";

export interface DrainServiceDeps {
  drain: DrainRepository;
  logger: Logger;
  /** Told after a change, so the reserve is looked at soon (an undrained pool refills). */
  onChanged?: (poolId: string) => void;
}

/** The longest reason kept. */
const MAX_REASON = 255;

export class DrainService {
  constructor(private readonly d: DrainServiceDeps) {}

  async drainPool(poolId: string, reason: string | null, actor: string | null): Promise<Pool> {
    if (reason !== null && reason.length > MAX_REASON)
      throw invalid(`reason is at most ${MAX_REASON} characters`);
    const pool = await this.d.drain.setPool(poolId, true, reason);
    if (!pool) throw notFound(`TRS project ${poolId} not found`);
    this.d.logger.info({ pool: poolId, actor, reason }, "pool draining");
    return pool;
  }

  async undrainPool(poolId: string, actor: string | null): Promise<Pool> {
    const pool = await this.d.drain.setPool(poolId, false, null);
    if (!pool) throw notFound(`TRS project ${poolId} not found`);
    this.d.logger.info({ pool: poolId, actor }, "pool undrained");
    this.d.onChanged?.(poolId);
    return pool;
  }

  async drainInstance(instanceId: string, actor: string | null): Promise<Instance> {
    const instance = await this.d.drain.setInstance(instanceId, true);
    if (!instance) throw notFound(`TRS instance ${instanceId} not found`);
    this.d.logger.info({ instance: instanceId, pool: instance.pool_id, actor }, "instance draining");
    // Its pool's reserve no longer counts it as free: the keeper builds a replacement.
    this.d.onChanged?.(instance.pool_id);
    return instance;
  }

  async undrainInstance(instanceId: string, actor: string | null): Promise<Instance> {
    const instance = await this.d.drain.setInstance(instanceId, false);
    if (!instance) throw notFound(`TRS instance ${instanceId} not found`);
    this.d.logger.info({ instance: instanceId, pool: instance.pool_id, actor }, "instance undrained");
    return instance;
  }
}
