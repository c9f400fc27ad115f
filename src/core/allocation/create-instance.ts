// Step create_instance (docs/broker-api.md#the-allocation, step 5): no instance to claim, so one is made for the user
// from the pool's template, named from its pattern, and recorded with the user as holder.
import { isCloudError } from "../../cloud/http.ts";
import { OperationMode } from "../../shared/types.ts";
import type { InstanceRow } from "../../store/holders.ts";
import type { Pool } from "../../store/pools.ts";
import type { RequestRow } from "../../store/requests.ts";
import { BrokerCode, BrokerError } from "../broker-error.ts";
import { nameFromPattern } from "../naming.ts";
import { TRS_TAG } from "../pools.ts";
import { ACTOR, type AllocationDeps } from "./deps.ts";
import { bilingual, type Detail } from "./step-text.ts";

export async function createInstance(
  d: Pick<AllocationDeps, "pools" | "nova" | "holders" | "instances">,
  request: RequestRow,
  pool: Pool,
  detail: (t: Detail) => void,
): Promise<InstanceRow> {
  const projectName = pool.name;
  const counter = await d.pools.allocateNames(pool.id, 1);
  if (counter === undefined) throw new BrokerError(BrokerCode.NoInstances, { project_name: projectName });
  const name = nameFromPattern(pool.instance_name_pattern, counter);
  let id: string;
  let reservationId: string;
  try {
    const created = await d.nova.createServers({
      name,
      flavorId: pool.flavor_id,
      imageId: pool.image_id,
      networkIds: pool.network_id ? [pool.network_id] : [],
      availabilityZone: pool.availability_zone ?? undefined,
      userData: pool.instance_init_script ?? undefined,
      tags: [TRS_TAG],
      description: `Created by rs-server for user ${request.user_name ?? request.user_id}`,
      projectId: pool.id,
    });
    if (created.ids.length === 0) throw new Error("Nova created no server");
    id = created.ids[0];
    reservationId = created.reservationId;
  } catch (err) {
    const why = (err as Error).message;
    detail(bilingual(`Nova refused the instance: ${why}`, `Nova отказала в создании машины: ${why}`));
    if (isCloudError(err, "quota_exceeded")) {
      throw new BrokerError(BrokerCode.QuotaExceeded, { project_name: projectName }, (err as Error).message);
    }
    throw new BrokerError(
      BrokerCode.InstanceCreationFailed,
      { project_name: projectName },
      (err as Error).message,
    );
  }
  // Recorded with its holder at once, so that the reserve keeper never counts it as free.
  // If this process dies before this line, the reconciler adopts the trs-tagged server.
  await d.holders.insertHeld(
    { id, poolId: pool.id, name, status: "BUILD", reservationId, imageId: pool.image_id },
    request.user_id,
    pool.operation_mode !== OperationMode.Simultaneous,
    ACTOR,
    `created for broker request ${request.id}`,
  );
  detail(
    bilingual(
      `instance ${id} (${name}) created in project ${projectName}`,
      `машина ${id} (${name}) создана в пуле ${projectName}`,
    ),
  );
  const row = await d.instances.get(id);
  if (!row) throw new Error(`instance ${id} vanished right after its creation`);
  return row;
}
