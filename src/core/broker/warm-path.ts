// The warm path of request-vm (docs/broker-api.md#the-warm-path): when the reserve holds an
// ACTIVE instance whose address we know, and nothing else of the allocation needs the cloud
// (no floating IP, no user volume, no client rules), the request is answered with its desktop
// already claimed — claim, completed request and session in one transaction — and the first
// get-vm says `completed`. No Nova or Neutron call, no task row: our record of the instance is
// what the build watcher and the reconciler keep in step with Nova. Anything else (the user
// already holds an instance, nothing ACTIVE is free, an open session to close) writes nothing
// here and goes the ordinary way, the allocation task.
import { randomUUID } from "node:crypto";
import type { RequestStep } from "../../shared/types.ts";
import type { ClaimKind, InstanceRow } from "../../store/holders.ts";
import type { Pool } from "../../store/pools.ts";
import type { NewRequest } from "../../store/requests.ts";
import { ACTOR } from "../allocation/deps.ts";
import {
  bilingual,
  claimedText,
  type Detail,
  fixedIpText,
  NO_FLOATING_IP,
  NO_VOLUMES,
  noClientRules,
  sessionText,
  setDetail,
} from "../allocation/step-text.ts";
import type { BrokerIdentity } from "../broker-auth.ts";
import { observeAllocation } from "../metrics.ts";
import { type BrokerContext, directory } from "./context.ts";
import type { RequestVmInput } from "./request-vm.ts";

const step = (name: string, outcome: RequestStep["outcome"], detail: Detail, ms = 0): RequestStep => {
  const made: RequestStep = { name, started_at: new Date().toISOString(), duration_ms: ms, outcome };
  setDetail(made, detail);
  return made;
};

/** Whether the request was recorded completed with its desktop (false: nothing was written). */
export async function allocateAtOnce(
  ctx: BrokerContext,
  identity: BrokerIdentity,
  pool: Pool,
  input: RequestVmInput,
  request: NewRequest,
): Promise<boolean> {
  const { deps, log } = ctx;
  if (!deps.config.allocation.warmPath) return false;
  // The volume and the client's rules are cloud work: the allocation task does them.
  if (pool.user_volume_enabled || (input.ipAddress && input.connType)) return false;
  const started = performance.now();
  let sessionId = "";
  const warmClaim = (groupIds: string[] | undefined) =>
    deps.repos.holders.claimAndComplete({
      poolId: pool.id,
      userId: identity.userId,
      groupIds,
      // As the allocation's find_instance, ACTIVE ones only: a BUILD reserve instance, a shared
      // one or a new one is the task's (it waits for Nova).
      order: [
        { kind: "group", statuses: ["ACTIVE"] },
        { kind: "free", statuses: ["ACTIVE"] },
      ],
      actor: ACTOR,
      reason: `broker request ${request.id}`,
      finish: (instance: InstanceRow, kind: ClaimKind) => {
        if (instance.status !== "ACTIVE" || !instance.fixed_ip) return undefined;
        sessionId = randomUUID();
        const findMs = Math.round((performance.now() - started) * 10) / 10;
        const steps = [
          step("find_instance", "ok", claimedText(instance, kind), findMs),
          step(
            "wait_active",
            "ok",
            bilingual(
              `instance ${instance.id} is ACTIVE (as recorded from Nova)`,
              `машина ${instance.id} в состоянии ACTIVE (по записи из Nova)`,
            ),
          ),
          step("floating_ip", "ok", NO_FLOATING_IP),
          step("volume", "skipped", NO_VOLUMES),
          step("resolve_ip", "ok", fixedIpText(instance.fixed_ip)),
          step("client_rules", "skipped", noClientRules(Boolean(input.ipAddress))),
          step("session", "ok", sessionText(sessionId)),
        ];
        return {
          request,
          steps,
          instanceId: instance.id,
          ip: instance.fixed_ip,
          session: {
            id: sessionId,
            instanceId: instance.id,
            instanceName: instance.name,
            projectId: pool.id,
            userId: identity.userId,
            userName: identity.userName,
            connectionType: request.connType,
            clientIp: request.clientIp ?? request.peerIp ?? null,
            clientOs: request.clientOs,
            clientInfo: request.clientInfo,
            requestId: request.id,
            ruleIds: [],
          },
        };
      },
    });
  // First without asking Keystone for the user's groups: a pool with no group instance (the
  // usual case) needs none, and the claim is one statement. A pool with some asks, then tries
  // again with them.
  let claimed = await warmClaim(undefined);
  if (claimed === "groups")
    claimed = await warmClaim(await directory(() => ctx.users.groups(identity.userId)));
  if (!claimed || claimed === "groups") return false;
  deps.requestReserve();
  observeAllocation((performance.now() - started) / 1000, "completed");
  log.info(
    {
      request_id: request.id,
      user_id: identity.userId,
      user_name: identity.userName,
      pool: pool.name,
      instance_id: claimed.instance.id,
      ip: claimed.instance.fixed_ip,
      warm: true,
    },
    "allocation completed",
  );
  return true;
}
