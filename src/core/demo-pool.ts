// The first start on the built-in simulator gets a desktop pool ready to try: "desktops" in
// the demo domain, the demo user a member of it, two desktops kept in reserve. A real cloud,
// or a database that already has a pool, is never touched.
import type { KeystoneClient } from "../cloud/keystone.ts";
import type { AdminCore } from "./admin-core.ts";

export interface DemoSeed {
  domainId: string;
  userId: string;
  flavorId: string;
  imageId: string;
  networkId: string;
}

export const DEMO_POOL = "desktops";

/** Creates the demo pool when there is no pool at all; answers its id, or undefined. */
export async function ensureDemoPool(
  core: Pick<AdminCore, "pools" | "repos">,
  keystone: Pick<KeystoneClient, "findRole" | "grantProjectRole">,
  seed: DemoSeed,
): Promise<string | undefined> {
  if ((await core.repos.pools.list()).length > 0) return undefined;
  const pool = await core.pools.create({
    name: DEMO_POOL,
    domain_id: seed.domainId,
    description: "Desktops to try rs-server with the built-in simulator",
    flavor_id: seed.flavorId,
    image_id: seed.imageId,
    network_id: seed.networkId,
    min_reserve_vm: 2,
  });
  const member = await keystone.findRole("member");
  if (member) await keystone.grantProjectRole(pool.id, { userId: seed.userId }, member.id);
  return pool.id;
}
