// The floating IP each user keeps: the broker associates it with the user's instance.
// API (admin routes, broker): list() / show(userId) / create / replace / remove
//   lookup(userId) → the user's floating IP id or undefined (no checks, for the broker)
import type { Cloud } from "../cloud/cloud.ts";
import { isCloudError } from "../cloud/http.ts";
import {
  type FloatingIpRepository,
  FloatingIpTakenError,
  type UserFloatingIp,
} from "../store/floating-ips.ts";
import type { Directory } from "./directory.ts";
import { conflict, invalid, notFound } from "./errors.ts";

export class FloatingIpService {
  constructor(
    private readonly d: {
      floatingIps: FloatingIpRepository;
      directory: Directory;
      cloud: Pick<Cloud, "neutron">;
    },
  ) {}

  list(): Promise<UserFloatingIp[]> {
    return this.d.floatingIps.list();
  }

  async lookup(userId: string): Promise<string | undefined> {
    return (await this.d.floatingIps.get(userId))?.floating_ip_id;
  }

  /** The user's entry: their floating IP, or none (null) when Keystone knows the user. */
  async show(userId: string): Promise<{ user_id: string; floating_ip_id: string | null }> {
    const row = await this.d.floatingIps.get(userId);
    if (row) return { user_id: row.user_id, floating_ip_id: row.floating_ip_id };
    await this.requireUser(userId);
    return { user_id: userId, floating_ip_id: null };
  }

  private async requireUser(userId: string) {
    if ((await this.d.directory.missingUsers([userId])).length > 0)
      throw notFound(`User ${userId} not found`);
  }

  private async checkFloatingIp(userId: string, floatingIpId: string) {
    try {
      await this.d.cloud.neutron.getFloatingIp(floatingIpId);
    } catch (err) {
      if (isCloudError(err, "not_found")) throw invalid(`Floating IP ${floatingIpId} not found`);
      throw err;
    }
    const holder = await this.d.floatingIps.holderOf(floatingIpId);
    if (holder !== undefined && holder !== userId) {
      throw conflict(`Floating IP ${floatingIpId} is assigned to another user`);
    }
  }

  async create(userId: string, floatingIpId: string): Promise<void> {
    await this.requireUser(userId);
    if (await this.d.floatingIps.get(userId)) throw conflict(`User ${userId} already has a floating IP`);
    await this.checkFloatingIp(userId, floatingIpId);
    await this.d.floatingIps.insert(userId, floatingIpId).catch((err) => {
      if (err instanceof FloatingIpTakenError) throw conflict(err.message);
      throw err;
    });
  }

  /** Sets the user's floating IP, replacing the one they had (if any). */
  async replace(userId: string, floatingIpId: string): Promise<void> {
    await this.requireUser(userId);
    await this.checkFloatingIp(userId, floatingIpId);
    await this.d.floatingIps.replace(userId, floatingIpId).catch((err) => {
      if (err instanceof FloatingIpTakenError) throw conflict(err.message);
      throw err;
    });
  }

  async remove(userId: string): Promise<void> {
    if (!(await this.d.floatingIps.remove(userId))) throw notFound(`User ${userId} has no floating IP`);
  }
}
