// Which instance a user gets, in the preference order of docs/broker-api.md#the-allocation (steps 1-4; step 5, a new
// instance, is the allocation's): the one assigned to the user, one of the user's groups',
// a free one of the reserve, and in Simultaneous pools the least loaded shared one.

import { OperationMode } from "../shared/types.ts";
import type { ClaimKind, HolderRepository, InstanceRow } from "../store/holders.ts";
import { isUniqueViolation } from "../store/unique.ts";

export type ClaimSource = "assigned" | ClaimKind;

export interface Claimed {
  instance: InstanceRow;
  source: ClaimSource;
  /** True when this claim made the user a holder (to be given back if the instance fails). */
  claimedNow: boolean;
}

export interface ClaimRequest {
  poolId: string;
  operationMode: string;
  userId: string;
  /** Looked up only when the user holds nothing in the pool. */
  groupIds: () => Promise<string[]>;
  actor: string;
  reason: string;
  /** Instances already found unusable in this run. */
  exclude?: string[];
  /** The broker request claiming (none while another request of the user builds). */
  requestId?: string;
}

/** An instance still building is worth waiting for; one in ERROR or gone is not. */
const USABLE = new Set(["ACTIVE", "BUILD"]);
const RETRIES_ON_RACE = 3;

export class ClaimService {
  constructor(
    private readonly repo: Pick<HolderRepository, "heldBy" | "poolHasGroupInstances" | "claim" | "release">,
  ) {}

  async claim(r: ClaimRequest): Promise<Claimed | undefined> {
    const held = (await this.repo.heldBy(r.poolId, r.userId)).filter(
      (i) => USABLE.has(i.status) && !r.exclude?.includes(i.id),
    );
    if (held.length) return { instance: held[0], source: "assigned", claimedNow: false };

    // Asking Keystone for the user's groups costs a round trip: only when the pool has
    // instances assigned to groups at all.
    const groupIds = (await this.repo.poolHasGroupInstances(r.poolId)) ? await r.groupIds() : [];
    const order: { kind: ClaimKind; statuses: string[] }[] = [
      { kind: "group", statuses: ["ACTIVE"] },
      // BUILD reserve instances come after ACTIVE ones: a user waits for one being built
      // rather than for a new one.
      { kind: "free", statuses: ["ACTIVE", "BUILD"] },
    ];
    if (r.operationMode === OperationMode.Simultaneous) order.push({ kind: "shared", statuses: ["ACTIVE"] });
    for (const step of order) {
      const claimed = await this.claimRetrying(r, step.kind, step.statuses, groupIds);
      if (!claimed) continue;
      // Another request of this user claimed one meanwhile: the same desktop, not a second one.
      const { alreadyHeld, ...instance } = claimed;
      if (alreadyHeld) return { instance, source: "assigned", claimedNow: false };
      return { instance, source: step.kind, claimedNow: true };
    }
    return undefined;
  }

  private async claimRetrying(r: ClaimRequest, kind: ClaimKind, statuses: string[], groupIds: string[]) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.repo.claim({
          kind,
          poolId: r.poolId,
          userId: r.userId,
          groupIds,
          statuses,
          actor: r.actor,
          reason: r.reason,
          exclude: r.exclude,
          requestId: r.requestId,
          // A free desktop still in its boot grace is worth a few seconds' wait rather than a
          // new build (the first users after a start, after a reserve refill).
          waitReady: kind === "free",
        });
      } catch (err) {
        // A holder appeared outside the claim protocol (an admin assignment): look again.
        if (!isUniqueViolation(err) || attempt >= RETRIES_ON_RACE) throw err;
      }
    }
  }

  release(instanceId: string, userId: string, actor: string, reason: string) {
    return this.repo.release(instanceId, userId, actor, reason);
  }
}
