// The user's resources follow the user to whichever instance they get: their floating IP,
// their volume in the pool, and firewall rules that open the connection type's ports on the
// instance for the client's address only (removed when the session closes).
import { isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { CinderClient, CinderVolume } from "../cloud/cinder.ts";
import type { NeutronClient, NeutronPort } from "../cloud/neutron.ts";
import type { NovaClient } from "../cloud/nova.ts";
import type { Pool } from "../store/pools.ts";
import type { UserResourcesRepository } from "../store/user-resources.ts";
import type { CoreDeps } from "./deps.ts";

export interface UserResourcesDeps {
  nova: NovaClient;
  neutron: NeutronClient;
  cinder: CinderClient;
  repo: UserResourcesRepository;
  connTypes: Record<string, string[]>;
  pollIntervalMs: number;
  /** How long a volume may take to become available / attached / detached. */
  waitTimeoutMs: number;
  logger: Logger;
}

export interface FloatingIpResult {
  address: string;
  floatingIpId: string;
  /** The port it was taken from, when it moved. */
  movedFromPort: string | null;
}

export interface VolumeResult {
  volumeId: string;
  created: boolean;
  /** The instance it was detached from first, when it moved. */
  movedFrom: string | null;
}

/** The per-instance security group: client rules of one desktop never open another one. */
export const INSTANCE_GROUP_PREFIX = "trs-instance-";
export const instanceGroupName = (instanceId: string) => `${INSTANCE_GROUP_PREFIX}${instanceId}`;

/** "3389" or "5900-5999" → [min, max]; anything else is a configuration error. */
export function portRange(spec: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(spec.trim());
  if (!m) throw new Error(`invalid port specification in connTypes: ${spec}`);
  const min = Number(m[1]);
  const max = m[2] ? Number(m[2]) : min;
  if (min < 1 || max > 65535 || max < min) throw new Error(`invalid port range in connTypes: ${spec}`);
  return [min, max];
}

/** The user resources of a process: its cloud, its records and the configured timings. */
export function userResourcesOf(deps: CoreDeps, logger: Logger = deps.logger): UserResources {
  const { config, cloud } = deps;
  return new UserResources({
    nova: cloud.nova,
    neutron: cloud.neutron,
    cinder: cloud.cinder,
    repo: deps.repos.userResources,
    connTypes: config.connTypes,
    pollIntervalMs: config.allocation.pollIntervalMs,
    waitTimeoutMs: config.allocation.buildTimeoutSeconds * 1000,
    logger,
  });
}

export class UserResources {
  constructor(private readonly d: UserResourcesDeps) {}

  /** The instance's port on the pool's network (any port when the pool names no network). */
  async instancePort(instanceId: string, networkId: string | null): Promise<NeutronPort | undefined> {
    const ports = await this.d.neutron.listPorts({ deviceId: instanceId, networkId: networkId ?? undefined });
    return ports.find((p) => p.fixedIps.length > 0) ?? ports[0];
  }

  /** Points the user's floating IP at the port (moving it off its previous one). */
  async floatingIp(userId: string, port: NeutronPort): Promise<FloatingIpResult | undefined> {
    const fipId = await this.d.repo.floatingIpOf(userId);
    if (!fipId) return undefined;
    const fip = await this.d.neutron.getFloatingIp(fipId);
    const fixed = port.fixedIps.find((f) => isIP(f.ipAddress) === 4) ?? port.fixedIps[0];
    if (fip.portId === port.id && (!fixed || fip.fixedIpAddress === fixed.ipAddress)) {
      return { address: fip.floatingIpAddress, floatingIpId: fip.id, movedFromPort: null };
    }
    // Neutron refuses to re-point an associated floating IP on some releases: take it off first.
    if (fip.portId) await this.d.neutron.disassociateFloatingIp(fip.id);
    const moved = await this.d.neutron.associateFloatingIp(fip.id, port.id, fixed?.ipAddress);
    return { address: moved.floatingIpAddress, floatingIpId: fip.id, movedFromPort: fip.portId };
  }

  /**
   * The user's volume of the pool attached to the instance: created (volume_size GB,
   * volume_type_id) and recorded as a volume assignment on first use, detached from the
   * instance it was on before.
   */
  async volume(
    pool: Pool,
    userId: string,
    userName: string | null,
    instanceId: string,
  ): Promise<VolumeResult> {
    let volumeId = await this.d.repo.volumeOf(userId, pool.id);
    let created = false;
    if (!volumeId) {
      const fresh = await this.d.cinder.createVolume({
        size: pool.volume_size ?? 1,
        volumeType: pool.volume_type_id ?? undefined,
        name: `trs-${pool.name}-${userName ?? userId}`,
        description: `User volume of ${userName ?? userId} in TRS project ${pool.name}`,
        metadata: { trs_user_id: userId, trs_project_id: pool.id },
        projectId: pool.id,
      });
      const recorded = await this.d.repo.recordVolume(userId, pool.id, fresh.id);
      if (!recorded.won) {
        // Two requests of the user raced: theirs is recorded, ours goes away.
        await this.waitVolume(fresh.id, (v) => v.status !== "creating", "created");
        await this.d.cinder.deleteVolume(fresh.id, { ignoreNotFound: true });
      }
      volumeId = recorded.volumeId;
      created = recorded.won;
    }
    let volume = await this.waitVolume(volumeId, (v) => !TRANSIENT.has(v.status), "settled");
    if (volume.attachments.some((a) => a.serverId === instanceId)) {
      return { volumeId, created, movedFrom: null };
    }
    let movedFrom: string | null = null;
    for (const a of volume.attachments) {
      movedFrom = a.serverId;
      await this.d.nova.detachVolume(a.serverId, volumeId, { ignoreNotFound: true });
    }
    if (movedFrom)
      volume = await this.waitVolume(
        volumeId,
        (v) => v.attachments.length === 0 && !TRANSIENT.has(v.status),
        "detached",
      );
    if (volume.status !== "available") {
      throw new Error(`volume ${volumeId} is ${volume.status}, cannot attach it`);
    }
    await this.d.nova.attachVolume(instanceId, volumeId);
    await this.waitVolume(volumeId, (v) => v.attachments.some((a) => a.serverId === instanceId), "attached");
    return { volumeId, created, movedFrom };
  }

  private async waitVolume(
    id: string,
    done: (v: CinderVolume) => boolean,
    what: string,
  ): Promise<CinderVolume> {
    const deadline = Date.now() + this.d.waitTimeoutMs;
    for (;;) {
      const v = await this.d.cinder.getVolume(id);
      if (v.status === "error" || v.status.startsWith("error_")) {
        throw new Error(`volume ${id} is in status ${v.status}`);
      }
      if (done(v)) return v;
      if (Date.now() > deadline) throw new Error(`volume ${id} not ${what} in time (status ${v.status})`);
      await sleep(this.d.pollIntervalMs);
    }
  }

  /**
   * Opens the conn_type's ports for the client address on the instance's own security group
   * (created and added to the instance on first use). Answers the rule ids to remove later.
   */
  async openClientRules(
    pool: Pool,
    instanceId: string,
    port: NeutronPort,
    connType: string,
    clientIp: string,
    sessionId: string,
  ): Promise<string[]> {
    const specs = this.d.connTypes[connType] ?? [];
    if (specs.length === 0) return [];
    const groupId = await this.instanceGroup(pool.id, instanceId, port);
    const prefix = isIP(clientIp) === 6 ? `${clientIp}/128` : `${clientIp}/32`;
    const ids: string[] = [];
    for (const spec of specs) {
      const [min, max] = portRange(spec);
      const rule = await this.d.neutron.ensureSecurityGroupRule({
        securityGroupId: groupId,
        direction: "ingress",
        protocol: "tcp",
        portRangeMin: min,
        portRangeMax: max,
        remoteIpPrefix: prefix,
        description: `rs-server session ${sessionId} (${connType})`,
      });
      if (rule.id) ids.push(rule.id);
    }
    return ids;
  }

  private async instanceGroup(projectId: string, instanceId: string, port: NeutronPort): Promise<string> {
    const name = instanceGroupName(instanceId);
    // The port says which groups the instance has: read those, no project-wide listing.
    for (const id of port.securityGroupIds) {
      const group = await this.d.neutron.getSecurityGroup(id);
      if (group.name === name) return group.id;
    }
    const group = await this.d.neutron.createSecurityGroup({
      name,
      description: `Client access to TRS instance ${instanceId} (rs-server)`,
      projectId,
    });
    await this.d.nova.addSecurityGroup(instanceId, group.id);
    return group.id;
  }

  /** Closes a session and removes the rules it opened; false when it was not open. */
  async closeSession(sessionId: string, at?: Date): Promise<boolean> {
    const ruleIds = await this.d.repo.closeSession(sessionId, at);
    if (!ruleIds) return false;
    await this.sweepRules(sessionId, ruleIds);
    return true;
  }

  /**
   * Removes a closed session's rules, except those an open session still relies on (two
   * sessions from one address share Neutron's identical rule).
   */
  async sweepRules(sessionId: string, ruleIds: string[]): Promise<void> {
    const shared = await this.d.repo.rulesInUse(ruleIds);
    // A rule that could not be removed stays listed: the sweeper tries again.
    if (await this.removeRules(ruleIds.filter((id) => !shared.has(id))))
      await this.d.repo.clearRules(sessionId);
  }

  /** Answers whether every rule is gone. */
  async removeRules(ruleIds: string[]): Promise<boolean> {
    let all = true;
    for (const id of ruleIds) {
      try {
        await this.d.neutron.deleteSecurityGroupRule(id, { ignoreNotFound: true });
      } catch (err) {
        // Closing must not fail on it: the rule only keeps a port open for one address.
        this.d.logger.warn({ err, ruleId: id }, "could not remove a client security group rule");
        all = false;
      }
    }
    return all;
  }
}

const TRANSIENT = new Set(["creating", "attaching", "detaching", "reserved", "downloading"]);
