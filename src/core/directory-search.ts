// Users and groups by name, for the dashboard's pickers (assignments, pool access): one
// Keystone listing with its own filters, then the names of their domains. Keystone's own
// list_limit may cut a listing short; this answers at most SEARCH_LIMIT, sorted by name.
// API (admin routes): users(filter) / groups(filter)
import type { KeystoneClient } from "../cloud/keystone.ts";

export const SEARCH_LIMIT = 50;

export interface DirectoryFilter {
  /** Exact name. */
  name?: string;
  /** Part of the name, case ignored. */
  nameContains?: string;
  domainId?: string;
}

export interface DirectoryEntry {
  id: string;
  name: string;
  domain_id: string;
  domain_name: string;
}

export class DirectorySearchService {
  constructor(private readonly keystone: Pick<KeystoneClient, "listUsers" | "listGroups" | "listDomains">) {}

  async users(f: DirectoryFilter): Promise<DirectoryEntry[]> {
    return this.named(await this.keystone.listUsers(f));
  }

  async groups(f: DirectoryFilter): Promise<DirectoryEntry[]> {
    return this.named(await this.keystone.listGroups(f));
  }

  private async named(found: { id: string; name: string; domainId: string }[]): Promise<DirectoryEntry[]> {
    const first = [...found].sort((a, b) => a.name.localeCompare(b.name)).slice(0, SEARCH_LIMIT);
    if (first.length === 0) return [];
    const domains = new Map((await this.keystone.listDomains()).map((d) => [d.id, d.name]));
    return first.map((e) => ({
      id: e.id,
      name: e.name,
      domain_id: e.domainId,
      domain_name: domains.get(e.domainId) ?? "",
    }));
  }
}
