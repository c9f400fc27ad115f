// Session policies per pool (issue 16). What rs-server can know of a session, and so what the
// policies mean (docs/operations.md, "Session policies"):
//   - a session is open from its record (the broker's, POST /v1/sessions, the web console
//     gateway's connection) until closed (PUT /v1/sessions/{id}, the gateway's socket closing,
//     housekeeping, or a policy here);
//   - activity: its opening, then each report of a client (PUT /v1/sessions/{id} with
//     `active_at`) and, for the web desktop, the browser's input through the gateway (noted at
//     most once a minute per connection);
//   - disconnected: a client reported it (`disconnected_at`; null again when it reconnects).
// Policies: idle_minutes (no activity for that long), disconnected_minutes (disconnected for
// that long), max_minutes (open for that long): past any, the job closes the session and
// removes its client rules. After a session ends, a non-persistent desktop (after_session
// rebuild or replace) is taken back from its user once no session is open on it: rebuilt from
// the pool's image (Nova's rebuild; the user's volume and floating IP are taken off first)
// and so back in the reserve, or deleted, the reserve keeper building its replacement.
// "keep" (the default) leaves it assigned, as before.

import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { NeutronClient } from "../cloud/neutron.ts";
import type { NovaClient } from "../cloud/nova.ts";
import type { Pool, PoolPatch } from "../store/pools.ts";
import type {
  EndAction,
  EndedDesktop,
  PolicyReason,
  SessionPolicyRepository,
} from "../store/session-policy.ts";
import { CoreError, invalid } from "./errors.ts";
import type { InstanceService } from "./instances.ts";
import type { UserResources } from "./user-resources.ts";

export type { EndAction, PolicyReason };

export const SESSION_POLICY_JOB = "sessions.policy";
/** Idle and disconnected times are minutes: a pass a minute is as precise as they are. */
export const SESSION_POLICY_SECONDS = 60;
export const END_ACTIONS = ["keep", "rebuild", "replace"] as const;
/** Sessions closed and desktops taken back per pass; the rest wait for the next one. */
const BATCH = 200;
/** A user whose session just closed may be reconnecting: their desktop waits this long. */
export const TAKE_BACK_GRACE_SECONDS = 60;
/** At most a year: anything longer is no limit and should be null. */
const MAX_MINUTES = 525_600;

/** The pool's `session_policy` object as the API reads and writes it. */
export interface SessionPolicy {
  idle_minutes: number | null;
  disconnected_minutes: number | null;
  max_minutes: number | null;
  after_session: EndAction;
}

export type SessionPolicyInput = Partial<SessionPolicy>;

export function sessionPolicyOf(p: Pool): SessionPolicy {
  return {
    idle_minutes: p.session_idle_minutes,
    disconnected_minutes: p.session_disconnected_minutes,
    max_minutes: p.session_max_minutes,
    after_session: p.session_end_action as EndAction,
  };
}

/** The pool record's columns for a `session_policy` input (only the keys it gives). */
export function sessionPolicyPatch(input: SessionPolicyInput | undefined): PoolPatch {
  if (!input) return {};
  for (const key of ["idle_minutes", "disconnected_minutes", "max_minutes"] as const) {
    const v = input[key];
    if (v != null && (!Number.isInteger(v) || v < 1 || v > MAX_MINUTES))
      throw invalid(
        `session_policy.${key} must be a whole number of minutes from 1 to ${MAX_MINUTES}, or null`,
      );
  }
  if (input.after_session !== undefined && !END_ACTIONS.includes(input.after_session))
    throw invalid(`session_policy.after_session must be one of ${END_ACTIONS.join(", ")}`);
  const patch: PoolPatch = {};
  if (input.idle_minutes !== undefined) patch.session_idle_minutes = input.idle_minutes;
  if (input.disconnected_minutes !== undefined)
    patch.session_disconnected_minutes = input.disconnected_minutes;
  if (input.max_minutes !== undefined) patch.session_max_minutes = input.max_minutes;
  if (input.after_session !== undefined) patch.session_end_action = input.after_session;
  return patch;
}

export interface SessionPolicyDeps {
  repo: SessionPolicyRepository;
  resources: Pick<UserResources, "closeSession">;
  instances: Pick<InstanceService, "remove">;
  nova: Pick<NovaClient, "rebuildServer" | "listVolumeAttachments" | "detachVolume">;
  neutron: Pick<NeutronClient, "listPorts" | "listFloatingIps" | "disassociateFloatingIp">;
  /** Asks the reserve keeper to run soon (a desktop was deleted: its replacement). */
  requestReserve(): void;
  logger: Logger;
  /** How often to look whether a detached volume is gone, and for how long. */
  pollIntervalMs: number;
  detachTimeoutMs: number;
  /** The clock (tests move it). */
  now?: () => Date;
}

export interface PolicyReport {
  closed: { session: string; pool: string; reason: PolicyReason }[];
  rebuilt: string[];
  replaced: string[];
}

export class SessionPolicyJob {
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(private readonly d: SessionPolicyDeps) {
    this.log = d.logger.child({ component: "session-policy" });
    this.now = d.now ?? (() => new Date());
  }

  async run(signal?: AbortSignal): Promise<PolicyReport> {
    const report: PolicyReport = { closed: [], rebuilt: [], replaced: [] };
    const now = this.now();
    for (const s of await this.d.repo.due(now, BATCH)) {
      if (signal?.aborted) return report;
      // Closed at the policy's time; false: the client closed it meanwhile.
      if (!(await this.d.resources.closeSession(s.id, now))) continue;
      await this.d.repo.setClosedReason(s.id, s.reason);
      report.closed.push({ session: s.id, pool: s.project_id, reason: s.reason });
      this.log.info(
        { session: s.id, pool: s.project_id, instance: s.instance_id, user_id: s.user_id, reason: s.reason },
        "session closed by policy",
      );
    }
    const ended = await this.d.repo.endedDesktops(now, TAKE_BACK_GRACE_SECONDS, BATCH);
    for (const desk of [...(await this.d.repo.stranded(BATCH)), ...ended]) {
      if (signal?.aborted) return report;
      // A stranded one was taken back by an earlier pass that did not finish.
      const users = ended.includes(desk) ? await this.d.repo.takeBack(desk.id, desk.action) : [];
      if (!users) continue;
      try {
        await this.finish(desk, users, report);
      } catch (err) {
        // Left RECYCLING (never claimable): the next pass tries again.
        this.log.error({ err, instance: desk.id, pool: desk.pool_id }, "desktop taken back but not recycled");
      }
    }
    return report;
  }

  /** Rebuilds or deletes a desktop taken back from `users`. */
  private async finish(desk: EndedDesktop, users: string[], report: PolicyReport): Promise<void> {
    if (desk.action === "rebuild") {
      await this.releaseUserResources(desk);
      try {
        await this.d.nova.rebuildServer(desk.id, desk.image_id);
        await this.d.repo.setStatus(desk.id, "REBUILD");
        report.rebuilt.push(desk.id);
        this.log.info({ instance: desk.id, pool: desk.pool_id, users }, "desktop rebuilt after its session");
        return;
      } catch (err) {
        // Never hand the old disk to the next user: a desktop Nova will not rebuild is replaced.
        this.log.warn(
          { err, instance: desk.id, pool: desk.pool_id },
          "rebuild refused: replacing the desktop",
        );
      }
    }
    await this.d.instances.remove(desk.id, "session-policy").catch((err) => {
      // Gone already (deleted meanwhile): nothing left to replace but the reserve's count.
      if (!(err instanceof CoreError && err.kind === "not_found")) throw err;
    });
    report.replaced.push(desk.id);
    this.log.info({ instance: desk.id, pool: desk.pool_id, users }, "desktop deleted after its session");
    this.d.requestReserve();
  }

  /**
   * Users' data volumes and floating IPs belong to their users, not to the desktop: off it
   * before the rebuild hands it to someone else (they follow the user to their next desktop,
   * as always). Every user's, not only the last holder's: a pass that crashed leaves no names.
   */
  private async releaseUserResources(desk: EndedDesktop): Promise<void> {
    const attachments = await this.d.nova.listVolumeAttachments(desk.id);
    const theirs = await this.d.repo.userVolumes(attachments.map((a) => a.volumeId));
    for (const id of theirs) await this.d.nova.detachVolume(desk.id, id, { ignoreNotFound: true });
    const deadline = Date.now() + this.d.detachTimeoutMs;
    while (theirs.size > 0) {
      const still = (await this.d.nova.listVolumeAttachments(desk.id)).filter((a) => theirs.has(a.volumeId));
      if (still.length === 0) break;
      if (Date.now() > deadline)
        throw new Error(`volumes ${still.map((a) => a.volumeId).join(", ")} not detached`);
      await sleep(this.d.pollIntervalMs);
    }
    for (const port of await this.d.neutron.listPorts({ deviceId: desk.id })) {
      for (const fip of await this.d.neutron.listFloatingIps({ portId: port.id }))
        await this.d.neutron.disassociateFloatingIp(fip.id);
    }
  }
}

/** A client's report on its session (PUT /v1/sessions/{id} with active_at / disconnected_at). */
export interface SessionReport {
  activeAt?: Date;
  disconnectedAt?: Date | null;
}
