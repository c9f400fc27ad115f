// Golden-image roll-out (issue 16): a pool moves to a new image without a night of manual
// work. Changing the pool's image_id (PUT /v1/projects/{id}) or POST .../rollout begins one:
//   - from then on the claim protocol gives no new holder an instance built from another
//     image than the pool's (store/holders.ts), so a user never gets an old-image desktop
//     unless it is the one they already hold;
//   - each step (the periodic job ROLLOUT_JOB, or step() in tests) replaces at most
//     batch_size old instances, and none while batch_size new-image builds of the pool are in
//     flight: a free one is removed and a new one built in its place; an assigned one whose
//     holder has no open session (and no request under way) gets a new instance that takes
//     over its users and groups in one transaction, then the old one is deleted. A user's
//     data volume follows them as it always does: the next allocation moves it to the new
//     desktop (core/user-resources.ts);
//   - with a deadline, the users of old desktops still in use are warned warn_before_seconds
//     before it (the notice on their session record and an event of the roll-out), and at the
//     deadline their sessions are closed (client rules removed) so the next step replaces them;
//   - it completes when no old instance is left; its progress (old/new counts) is in the
//     pool's `rollout` key and in the result of the task of the same id.
// pause / resume stop and restart the steps; rollback begins a roll-out back to the previous
// image (the current one ends as rolled_back, its task REVOKED).
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { NovaClient } from "../cloud/nova.ts";
import type { HolderRepository } from "../store/holders.ts";
import type { Pool, PoolRepository } from "../store/pools.ts";
import type { Rollout, RolloutProgress, RolloutRepository } from "../store/rollouts.ts";
import type { RolloutEvent } from "../store/schema.ts";
import { conflict, invalid, notFound } from "./errors.ts";
import type { InstanceService } from "./instances.ts";

export const ROLLOUT_JOB = "rollout.step";
export const ROLLOUT_ACTOR = "rollout";

export interface RolloutInput {
  imageId: string;
  /** Default config rollout.batchSize. */
  batchSize?: number;
  /** When desktops still in use are replaced anyway (null: only when their sessions close). */
  deadline?: string | null;
  /** Default config rollout.warnBeforeSeconds. */
  warnBeforeSeconds?: number;
}

export interface RolloutStatus {
  rollout: Rollout;
  progress: RolloutProgress;
}

export interface RolloutServiceDeps {
  rollouts: RolloutRepository;
  pools: Pick<PoolRepository, "get">;
  holders: Pick<HolderRepository, "moveAll" | "retireFree">;
  instances: Pick<InstanceService, "create" | "remove">;
  nova: Pick<NovaClient, "deleteServer">;
  /** Whether Glance has the image. */
  imageExists: (imageId: string) => Promise<boolean>;
  /** Closes a session and removes its client rules (core/user-resources.ts). */
  closeSession: (sessionId: string) => Promise<boolean>;
  batchSize: number;
  warnBeforeSeconds: number;
  logger: Logger;
  now?: () => Date;
}

const event = (kind: string, message: string, at: Date): RolloutEvent => ({
  at: at.toISOString(),
  kind,
  message,
});

export class RolloutService {
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(private readonly d: RolloutServiceDeps) {
    this.log = d.logger.child({ component: "rollout" });
    this.now = d.now ?? (() => new Date());
  }

  private async requirePool(poolId: string): Promise<Pool> {
    const pool = await this.d.pools.get(poolId);
    if (!pool) throw notFound(`TRS project ${poolId} not found`);
    return pool;
  }

  /** Begins a roll-out of the pool to input.imageId (PUT image_id or POST .../rollout). */
  async start(poolId: string, input: RolloutInput, actor: string | null): Promise<RolloutStatus> {
    const pool = await this.requirePool(poolId);
    const { batchSize, warn, deadline } = this.options(input, this.d.batchSize, this.d.warnBeforeSeconds);
    if (input.imageId === pool.image_id) {
      throw conflict(`Image ${input.imageId} is already the image of TRS project ${poolId}`);
    }
    if (!(await this.d.imageExists(input.imageId))) throw invalid(`Image ${input.imageId} not found`);
    const rollout = await this.d.rollouts.begin({
      id: randomUUID(),
      poolId,
      toImageId: input.imageId,
      batchSize,
      deadline,
      warnBeforeSeconds: warn,
      actor,
    });
    if (!rollout) throw notFound(`TRS project ${poolId} not found`);
    this.log.info(
      { pool: poolId, rollout: rollout.id, from: rollout.from_image_id, to: rollout.to_image_id, actor },
      "roll-out started",
    );
    return this.statusOf(rollout);
  }

  private options(input: Omit<RolloutInput, "imageId">, batch: number, warnBefore: number) {
    const batchSize = input.batchSize ?? batch;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw invalid("batch_size must be an integer of 1 or more");
    const warn = input.warnBeforeSeconds ?? warnBefore;
    if (!Number.isInteger(warn) || warn < 0)
      throw invalid("warn_before_seconds must be an integer of 0 or more");
    let deadline: Date | null = null;
    if (input.deadline != null) {
      deadline = new Date(input.deadline);
      if (Number.isNaN(deadline.getTime())) throw invalid("deadline must be an ISO 8601 date and time");
      if (deadline <= this.now()) throw invalid("deadline must be in the future");
    }
    return { batchSize, warn, deadline };
  }

  async pause(poolId: string, actor: string | null): Promise<RolloutStatus> {
    return this.move(poolId, "running", "paused", actor);
  }

  async resume(poolId: string, actor: string | null): Promise<RolloutStatus> {
    return this.move(poolId, "paused", "running", actor);
  }

  private async move(poolId: string, from: string, to: string, actor: string | null): Promise<RolloutStatus> {
    await this.requirePool(poolId);
    const active = await this.d.rollouts.active(poolId);
    const verb = to === "paused" ? "pause" : "resume";
    if (!active || active.state !== from)
      throw conflict(`TRS project ${poolId} has no ${from} roll-out to ${verb}`);
    const e = event(to, `${to} by ${actor ?? "the system"}`, this.now());
    if (!(await this.d.rollouts.setState(active.id, from, to, e)))
      throw conflict(`The roll-out of TRS project ${poolId} changed meanwhile: look again`);
    this.log.info({ pool: poolId, rollout: active.id, actor }, `roll-out ${to}`);
    return this.statusOf((await this.d.rollouts.get(active.id))!);
  }

  /**
   * Back to the image before the roll-out in progress (or the last one): a roll-out to that
   * image begins, the current one ends as rolled_back.
   */
  async rollback(poolId: string, input: Omit<RolloutInput, "imageId">, actor: string | null) {
    const pool = await this.requirePool(poolId);
    const last = (await this.d.rollouts.latest([poolId])).get(poolId);
    if (!last) throw conflict(`TRS project ${poolId} has had no roll-out to roll back`);
    if (last.from_image_id === pool.image_id)
      throw conflict(`Image ${pool.image_id} is already the image of TRS project ${poolId}`);
    const { batchSize, warn, deadline } = this.options(input, last.batch_size, last.warn_before_seconds);
    const rollout = await this.d.rollouts.begin({
      id: randomUUID(),
      poolId,
      toImageId: last.from_image_id,
      batchSize,
      deadline,
      warnBeforeSeconds: warn,
      actor,
      endPrevious: "rolled_back",
    });
    if (!rollout) throw notFound(`TRS project ${poolId} not found`);
    this.log.info(
      { pool: poolId, rollout: rollout.id, to: rollout.to_image_id, actor },
      "roll-out rolled back",
    );
    return this.statusOf(rollout);
  }

  /** The pool's roll-out in progress, else its last one; undefined when it never had one. */
  async status(poolId: string): Promise<RolloutStatus | undefined> {
    await this.requirePool(poolId);
    const last = (await this.d.rollouts.latest([poolId])).get(poolId);
    return last ? this.statusOf(last) : undefined;
  }

  /** The last roll-out of each pool named, with its progress (pool views). */
  async statusOfPools(poolIds: string[]): Promise<Map<string, RolloutStatus>> {
    const latest = [...(await this.d.rollouts.latest(poolIds)).values()];
    const progress = await this.d.rollouts.progressOf(latest);
    return new Map(
      latest.map((rollout) => [
        rollout.pool_id,
        { rollout, progress: progress.get(rollout.pool_id) ?? { old: 0, new: 0, oldAssigned: 0 } },
      ]),
    );
  }

  private async statusOf(rollout: Rollout): Promise<RolloutStatus> {
    return { rollout, progress: await this.d.rollouts.progress(rollout) };
  }

  /** One step of every running roll-out (the periodic job). */
  async step(signal?: AbortSignal): Promise<void> {
    for (const r of await this.d.rollouts.running()) {
      if (signal?.aborted) return;
      try {
        await this.stepOne(r);
      } catch (err) {
        this.log.error({ err, pool: r.pool_id, rollout: r.id }, "roll-out step failed");
      }
    }
  }

  private async stepOne(r: Rollout): Promise<void> {
    const pool = await this.d.pools.get(r.pool_id);
    if (!pool) return;
    const now = this.now();
    let progress = await this.d.rollouts.progress(r);
    if (progress.old === 0) {
      await this.complete(r, progress, now);
      return;
    }
    await this.deadlineWork(r, now);
    const budget = r.batch_size - (await this.d.rollouts.newBuilding(r));
    if (budget > 0) {
      const idle = (await this.d.rollouts.oldInstances(r)).filter((o) => !o.busy).slice(0, budget);
      let replaced = 0;
      for (const old of idle) {
        try {
          if (await this.replace(pool, old.id, old.assigned)) replaced += 1;
        } catch (err) {
          // Nova refused the new instance (quota, ...): the next step tries again.
          this.log.warn({ err, pool: pool.id, instance: old.id }, "roll-out cannot replace an instance");
          await this.d.rollouts.event(
            r.id,
            event("error", `instance ${old.id} not replaced: ${(err as Error).message}`, now),
          );
          break;
        }
      }
      if (replaced > 0) {
        await this.d.rollouts.event(r.id, event("replaced", `${replaced} instance(s) replaced`, now), {
          replacedMore: replaced,
        });
        this.log.info({ pool: pool.id, rollout: r.id, replaced }, "roll-out replaced instances");
      }
      progress = await this.d.rollouts.progress(r);
    }
    await this.d.rollouts.saveProgress(r.id, this.result(r, progress, "running"));
  }

  /** Replaces one old instance; false when it turned out in use (left for a later step). */
  private async replace(pool: Pool, oldId: string, assigned: boolean): Promise<boolean> {
    const description = `Roll-out replacement of ${oldId}`;
    if (!assigned) {
      // Free: nobody can take it meanwhile (no claim gives an old-image instance).
      if (!(await this.d.holders.retireFree(oldId))) return false;
      await this.d.nova.deleteServer(oldId, { ignoreNotFound: true });
      await this.d.instances.create({ projectId: pool.id, count: 1, description }, ROLLOUT_ACTOR);
      return true;
    }
    const { ids } = await this.d.instances.create(
      { projectId: pool.id, count: 1, description },
      ROLLOUT_ACTOR,
    );
    const fresh = ids[0]!;
    const moved = await this.d.holders.moveAll(oldId, fresh, {
      actor: ROLLOUT_ACTOR,
      reason: `roll-out to image ${pool.image_id}`,
    });
    if (!moved) {
      // Its holder started a session meanwhile: the new instance goes, the old one waits.
      await this.d.instances.remove(fresh, ROLLOUT_ACTOR);
      return false;
    }
    await this.d.nova.deleteServer(oldId, { ignoreNotFound: true });
    return true;
  }

  /** The warning before the deadline, then at the deadline the old desktops' sessions closed. */
  private async deadlineWork(r: Rollout, now: Date): Promise<void> {
    if (!r.deadline) return;
    const warnAt = r.deadline.getTime() - r.warn_before_seconds * 1000;
    if (now.getTime() < warnAt) return;
    const old = await this.d.rollouts.oldInstances(r);
    const sessions = await this.d.rollouts.openSessions(old.map((o) => o.id));
    if (!r.warned_at) {
      const notice = `This desktop is replaced by one with a new image at ${r.deadline.toISOString()}: save your work and sign out before then.`;
      await this.d.rollouts.noticeSessions(
        sessions.map((s) => s.id),
        notice,
      );
      await this.d.rollouts.event(
        r.id,
        event(
          "warning",
          `${sessions.length} open session(s) on old-image desktops warned of the deadline ${r.deadline.toISOString()}`,
          now,
        ),
        { warnedAt: now },
      );
      this.log.info(
        { pool: r.pool_id, rollout: r.id, sessions: sessions.length },
        "roll-out warned of its deadline",
      );
    }
    if (now < r.deadline || sessions.length === 0) return;
    for (const s of sessions) await this.d.closeSession(s.id);
    await this.d.rollouts.event(
      r.id,
      event("deadline", `${sessions.length} session(s) on old-image desktops closed at the deadline`, now),
    );
    this.log.info(
      { pool: r.pool_id, rollout: r.id, sessions: sessions.length },
      "roll-out deadline closed sessions",
    );
  }

  private async complete(r: Rollout, progress: RolloutProgress, now: Date): Promise<void> {
    const done = await this.d.rollouts.finish(
      r.id,
      "completed",
      "SUCCESS",
      event("completed", `every instance runs image ${r.to_image_id}`, now),
      this.result(r, progress, "completed"),
    );
    if (done) this.log.info({ pool: r.pool_id, rollout: r.id }, "roll-out completed");
  }

  private result(r: Rollout, p: RolloutProgress, state: string) {
    return {
      project_id: r.pool_id,
      state,
      from_image_id: r.from_image_id,
      to_image_id: r.to_image_id,
      old: p.old,
      new: p.new,
    };
  }
}
