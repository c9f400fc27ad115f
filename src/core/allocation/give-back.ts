// Giving back: the instance a run claimed or created goes back when its request did not get
// it (another run ended the request, or the task was revoked).
import { ACTOR, type AllocationDeps } from "./deps.ts";

/**
 * Gives back the instance this run claimed or created when the request ended without it (a
 * run whose lease lapsed while it waited for a connection may claim after another run had
 * already failed the request), or when its task was revoked. While the request is still
 * open another run is on it and finds the hold as the user's own instance, so it stays.
 */
export async function giveBack(
  d: Pick<AllocationDeps, "requests" | "claims" | "taskRevoked" | "logger">,
  requestId: string,
  userId: string,
  instanceId: string | undefined,
): Promise<void> {
  if (!instanceId) return;
  const row = await d.requests.get(requestId);
  if (!row) return;
  const open = row.status !== "completed" && row.status !== "failed";
  // An open request is another run's, unless its task was revoked: then no run will come.
  if (open && !(row.task_id && (await d.taskRevoked?.(row.task_id)))) return;
  if (row.status === "completed" && row.instance_id === instanceId) return;
  await d.claims.release(
    instanceId,
    userId,
    ACTOR,
    open ? `broker request ${requestId} was revoked` : `broker request ${requestId} ended in another run`,
  );
  d.logger.info(
    { request_id: requestId, instance_id: instanceId },
    "gave back an instance its request did not get",
  );
}
