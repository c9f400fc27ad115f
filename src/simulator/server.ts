// The built-in OpenStack simulator: one loopback HTTP server that answers, under a prefix per
// service, the subset of Keystone v3, Nova 2.1, Neutron 2.0, Cinder v3 and Glance v2 that
// rs-server uses, with the real wire shapes. Its service catalog points at those prefixes.
import Fastify, { type FastifyInstance } from "fastify";
import type { Faults, SimContext, SimOptions } from "./context.ts";

export const SERVICE_PREFIX = {
  identity: "/identity",
  compute: "/compute",
  network: "/network",
  volumev3: "/volume",
  image: "/image",
} as const;

export const DEFAULT_SIM_OPTIONS: SimOptions = { buildDelayMs: 1000, volumeDelayMs: 300, region: "RegionOne" };

export const NO_FAULTS: Faults = { errorRate: 0, latencyMs: 0, errorBuilds: false, stuckBuild: false };

// CONTRACT (filled in by the simulator's owners; other code relies on these names):
//
// export interface SimulatorHandle {
//   url: string;        // base URL, e.g. http://127.0.0.1:43211
//   authUrl: string;    // `${url}/identity/v3`
//   admin: SimCredentials;  // admin user, Default domain, project "admin", role admin
//   demo: SimCredentials;   // demo user in domain "demo", project "demo", role member
//   seed: { flavorId; flavorName; imageId; networkId; subnetId; externalNetworkId; volumeTypeId; demoDomainId; adminProjectId; demoProjectId };
//   ctx: SimContext;    // ctx.faults is mutable for in-process tests
//   stop(): Promise<void>;
// }
// export async function startSimulator(opts: { host?; port?; dataDir?; options?: Partial<SimOptions> }): Promise<SimulatorHandle>
//
// Routes: Keystone at /identity (catalog URL `${url}/identity/v3`), Nova at /compute (`${url}/compute/v2.1`),
// Neutron at /network (`${url}/network`), Cinder at /volume (`${url}/volume/v3/<project_id>`), Glance at
// /image (`${url}/image`), fault control at GET/PUT /sim/faults.
export type { FastifyInstance };
