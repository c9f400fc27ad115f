// The allocation task (this module runs it; each step has its own module beside it): gives the user of a broker request a running desktop, in the order of
// docs/broker-api.md#the-allocation — find one (assigned, group, reserve, shared) or create one, wait for ACTIVE,
// bring the user's floating IP and volume to it, resolve its address, open the client's
// ports, record the session — and leaves every step in the request for get-vm to show.
//
// It runs in the process that accepted request-vm (the warm path) and, when that process
// dies, again in a task worker: every step is idempotent for a re-run (a claim made before
// is found as "assigned", a floating IP already there is left alone, ...).

import type { InstanceRow } from "../../store/holders.ts";
import type { Pool } from "../../store/pools.ts";
import type { RequestRow } from "../../store/requests.ts";
import { BrokerCode, BrokerError, isBrokerError } from "../broker-error.ts";
import { connectUser } from "./connect-user.ts";
import { createInstance } from "./create-instance.ts";
import { ACTOR, type AllocationDeps, type AllocationResult, Unusable } from "./deps.ts";
import { giveBack } from "./give-back.ts";
import { StepRecorder } from "./step-recorder.ts";
import { bilingual, claimedText, sessionText } from "./step-text.ts";
import { sleep, waitActive } from "./wait-active.ts";

export { ALLOCATION_TASK, type AllocationDeps, type AllocationResult } from "./deps.ts";

/** How many claimed instances may turn out broken before the request fails. */
const MAX_CANDIDATES = 3;

/** How find_instance names where the instance came from. */

const secondsSince = (t: Date | string) => (Date.now() - new Date(t).getTime()) / 1000;

export class Allocation {
  constructor(private readonly d: AllocationDeps) {}

  async run(requestId: string, signal?: AbortSignal): Promise<AllocationResult> {
    const request = await this.d.requests.unfinished(requestId);
    if (!request) return { request_id: requestId, status: "finished_before" };
    // Saved with the steps as soon as it is known, so that get-vm shows the build going on.
    let instanceId: string | null = request.instance_id;
    // The instance this run claimed or created for the user, if any: given back when another
    // run of the task ended the request some other way.
    let ownClaim: string | undefined;
    const steps = new StepRecorder(
      (s) => this.d.requests.saveProgress(requestId, s, instanceId),
      request.steps,
    );
    try {
      const pool = await this.d.pools.get(request.project_id);
      if (!pool)
        throw new BrokerError(BrokerCode.NoInstances, {
          project_name: request.project_name ?? request.project_id,
        });
      const { instance, server, port } = await this.instanceFor(request, pool, steps, signal, (id, ours) => {
        instanceId = id;
        ownClaim = ours ? id : undefined;
      });
      // A run whose lease went elsewhere stops between steps: the other run goes on.
      signal?.throwIfAborted();
      const { ip, session } = await connectUser(this.d, request, pool, instance, server, port, steps);
      const step = steps.instant("session", sessionText(session.id));
      let completed: boolean;
      try {
        signal?.throwIfAborted();
        completed = await this.d.requests.complete(requestId, steps.steps, instance.id, ip, session);
      } catch (err) {
        // Not recorded (lease lost, or the write failed): the rules it opened go.
        step.outcome = "failed";
        await this.d.resources.removeRules(session.ruleIds);
        throw err;
      }
      if (!completed) {
        // Another run of the task (this one's lease lapsed) ended the request first: its
        // outcome stands; undo what this run did so nothing is left held or open.
        await this.d.resources.removeRules(session.ruleIds);
        await giveBack(this.d, requestId, request.user_id, ownClaim);
        return { request_id: requestId, status: "finished_before" };
      }
      this.d.onFinished?.(secondsSince(request.created_at), "completed");
      this.d.logger.info(
        {
          request_id: requestId,
          user_id: request.user_id,
          user_name: request.user_name,
          pool: pool.name,
          instance_id: instance.id,
          ip,
        },
        "allocation completed",
      );
      return { request_id: requestId, status: "completed", instance_id: instance.id };
    } catch (err) {
      // Revoked, or the lease went to another runner: that one (if any) records the outcome.
      if (signal?.aborted) {
        await giveBack(this.d, requestId, request.user_id, ownClaim).catch((e) =>
          this.d.logger.warn({ err: e, request_id: requestId }, "cannot give back a claimed instance"),
        );
        throw err;
      }
      const failure = isBrokerError(err)
        ? err
        : new BrokerError(BrokerCode.AllocationFailed, {}, (err as Error)?.message);
      if (!isBrokerError(err))
        this.d.logger.error({ err, request_id: requestId }, "allocation failed unexpectedly");
      await this.d.requests.fail(requestId, steps.steps, failure.code, failure.data, instanceId);
      this.d.onFinished?.(secondsSince(request.created_at), failure.code);
      return { request_id: requestId, status: "failed", error_code: failure.code };
    }
  }

  /** Waits for the user's build turn in the pool: "ours", or "held" (the user holds an instance now). */
  private async buildTurn(pool: Pool, request: RequestRow, signal: AbortSignal | undefined) {
    const stale = Math.ceil((2 * this.d.buildTimeoutMs) / 1000);
    for (;;) {
      const turn = await this.d.holders.takeBuildTurn(pool.id, request.user_id, request.id, stale);
      if (turn !== "wait") return turn;
      await sleep(this.d.pollIntervalMs, signal);
    }
  }

  /**
   * Steps 1-5 of docs/broker-api.md#the-allocation, then the wait for ACTIVE; a broken claimed
   * instance is replaced.
   */
  private async instanceFor(
    request: RequestRow,
    pool: Pool,
    steps: StepRecorder,
    signal: AbortSignal | undefined,
    chosen: (instanceId: string, claimedByThisRun: boolean) => void,
  ) {
    const exclude: string[] = [];
    let groups: Promise<string[]> | undefined;
    for (let attempt = 0; ; attempt++) {
      const found = await steps.run("find_instance", async (step) => {
        const claimed = await this.d.claims.claim({
          poolId: pool.id,
          operationMode: pool.operation_mode,
          userId: request.user_id,
          groupIds: () => {
            groups ??= this.d.groupsOfUser(request.user_id);
            return groups;
          },
          actor: ACTOR,
          reason: `broker request ${request.id}`,
          exclude,
          requestId: request.id,
        });
        step.detail(
          claimed
            ? claimedText(claimed.instance, claimed.source)
            : bilingual(
                "no assigned, group, free or shareable instance: a new one is needed",
                "нет ни закреплённой, ни групповой, ни свободной, ни общей машины: нужна новая",
              ),
        );
        return claimed;
      });
      let instance: InstanceRow;
      let ours: boolean;
      if (found) {
        instance = found.instance;
        ours = found.claimedNow;
        if (found.claimedNow) this.d.onInstanceTaken?.(pool.id);
      } else {
        signal?.throwIfAborted();
        // A draining pool gives a desktop only to those who hold one already (core/drain.ts).
        if ((await this.d.pools.get(pool.id))?.draining) {
          // Skipped, not failed: its reason is the user's to read (get-vm hides failures' causes).
          steps.skip(
            "create_instance",
            bilingual(
              `project ${pool.name} is draining: no new desktop is handed out`,
              `пул ${pool.name} выводится из работы: новые рабочие столы не выдаются`,
            ),
          );
          throw new BrokerError(
            BrokerCode.NoInstances,
            { project_name: pool.name },
            `TRS project ${pool.name} is draining`,
          );
        }
        // One build at a time per user: another request of the user's building one now
        // (a double click, a retrying client) is waited for, and its instance found as theirs.
        if ((await this.buildTurn(pool, request, signal)) === "held") continue;
        instance = await steps
          .run("create_instance", (step) => createInstance(this.d, request, pool, step.detail), {
            slow: true,
            initial: bilingual(
              `creating an instance in project ${pool.name}`,
              `создаётся машина в пуле ${pool.name}`,
            ),
          })
          .catch(async (err) => {
            await this.d.holders.endBuildTurn(pool.id, request.user_id, request.id).catch(() => {});
            throw err;
          });
        ours = true;
        this.d.onInstanceTaken?.(pool.id);
      }
      chosen(instance.id, ours);
      // An instance already ACTIVE has its ports: look them up while Nova confirms it.
      const port =
        instance.status === "ACTIVE"
          ? this.d.resources.instancePort(instance.id, pool.network_id)
          : undefined;
      port?.catch(() => {});
      try {
        const server = await steps.run(
          "wait_active",
          (step) =>
            waitActive(this.d, instance, steps, step.detail, signal, {
              // A free ACTIVE desktop claimed within its boot grace is handed out once ready.
              readyAt:
                found?.source === "free" && found.claimedNow && instance.status === "ACTIVE"
                  ? (instance.ready_at ?? undefined)
                  : undefined,
            }),
          {
            slow: instance.status !== "ACTIVE",
            initial: bilingual(
              `waiting for instance ${instance.id} to become ACTIVE (${instance.status})`,
              `ожидание, пока машина ${instance.id} перейдёт в ACTIVE (${instance.status})`,
            ),
          },
        );
        // Replaced meanwhile (a roll-out moved the user to a new instance): not this one.
        if (!ours && !(await this.d.instances.get(instance.id))) throw new Unusable("DELETED");
        return {
          instance,
          server,
          port: await (port ?? this.d.resources.instancePort(instance.id, pool.network_id)),
        };
      } catch (err) {
        if (!(err instanceof Unusable)) throw err;
        // A reserve instance that broke is given back and another one tried; one made for
        // this request, or one an admin assigned, is the request's failure (17).
        // So is an assigned one gone from our records: a roll-out replaced it (core/rollout.ts),
        // and the user's new instance is found by looking again.
        const replaced = !ours && found !== undefined && !(await this.d.instances.get(instance.id));
        const canRetry = (ours || replaced) && found !== undefined && attempt + 1 < MAX_CANDIDATES;
        if (ours) await this.d.claims.release(instance.id, request.user_id, ACTOR, err.message);
        if (!canRetry)
          throw new BrokerError(BrokerCode.InstanceInvalidState, {
            instance_id: instance.id,
            instance_status: err.message,
          });
        exclude.push(instance.id);
      }
    }
  }
}
