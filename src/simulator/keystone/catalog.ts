// The service catalog: stored as URL templates so that it follows the simulator's address
// across restarts, rendered per token with the project id substituted as Keystone does.
import type { Keystone } from "./core.ts";
import { newId, type ServiceRec } from "./state.ts";

const PROJECT_TEMPLATE = "%(project_id)s";

export function renderCatalog(ks: Keystone, projectId?: string) {
  const base = ks.baseUrl();
  return ks.state.services
    .map((s) => ({
      endpoints: s.endpoints
        // Endpoints that need a project id are left out of domain-scoped catalogs.
        .filter((ep) => projectId !== undefined || !ep.url.includes(PROJECT_TEMPLATE))
        .map((ep) => ({
          id: ep.id,
          interface: ep.interface,
          region: ep.region,
          region_id: ep.region,
          url: ep.url.replace("{base}", base).replace(PROJECT_TEMPLATE, projectId ?? ""),
        })),
      id: s.id,
      type: s.type,
      name: s.name,
    }))
    .filter((s) => s.endpoints.length > 0);
}

/** A service with the same URL on the public, internal and admin interfaces. */
export function makeService(type: string, name: string, url: string, region: string): ServiceRec {
  return {
    id: newId(),
    type,
    name,
    endpoints: (["public", "internal", "admin"] as const).map((iface) => ({
      id: newId(),
      interface: iface,
      region,
      url,
    })),
  };
}
