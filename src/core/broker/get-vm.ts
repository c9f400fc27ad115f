// get-vm: the state of a request for its owner — pending, in progress (with the step
// running and our record of the instance), completed (with Nova's view of the instance), or
// the request's own broker code; 10 for an unknown request, 11 for someone else's.
import type { NovaServer } from "../../cloud/nova.ts";
import type { RequestStep } from "../../shared/types.ts";
import type { RequestRow } from "../../store/requests.ts";
import { BrokerCode, BrokerError, type BrokerErrorCode, type BrokerErrorData } from "../broker-error.ts";
import type { BrokerContext } from "./context.ts";

export interface ServerView {
  status: string | null;
  vm_state: string | null;
  ip: string | null;
  progress: number | null;
  task_state: string | null;
  id: string | null;
}

export type GetVmResult =
  | {
      kind: "state";
      status: "pending" | "in_progress" | "completed";
      message: string | null;
      server: ServerView;
      steps: RequestStep[];
    }
  | { kind: "failed"; code: BrokerErrorCode; data: BrokerErrorData; steps: RequestStep[] };

/** Celery's states of a task that will not finish its request. */
const TERMINAL_TASK = new Set(["FAILURE", "REVOKED"]);

function serverView(server: NovaServer | undefined, ip: string | null, id: string | null): ServerView {
  return {
    status: server?.status ?? null,
    vm_state: server?.vmState ?? null,
    ip,
    progress: server?.progress ?? (server ? 0 : null),
    task_state: server?.taskState ?? null,
    id: server?.id ?? id,
  };
}

export async function getVm(ctx: BrokerContext, userId: string, requestId: string): Promise<GetVmResult> {
  const { deps } = ctx;
  const requests = deps.repos.requests;
  let row = await requests.get(requestId);
  if (!row) throw new BrokerError(BrokerCode.RequestNotFound, {}, `no request ${requestId}`);
  if (row.user_id !== userId)
    throw new BrokerError(
      BrokerCode.RequestOfAnotherUser,
      {},
      `request ${requestId} belongs to another user`,
    );
  const finished = (r: { status: string }) => r.status === "failed" || r.status === "completed";
  if (!finished(row) && row.task_id) {
    const task = await deps.tasks.get(row.task_id);
    if (task && TERMINAL_TASK.has(task.status)) {
      // The task records the request's outcome before Celery's state, so a request that
      // ended between the two reads shows its own outcome on a second read; only a task
      // that died without recording one is the task's failure (3).
      row = (await requests.get(requestId)) ?? row;
      if (!finished(row))
        return {
          kind: "failed",
          code: BrokerCode.TaskFailed,
          data: {},
          steps: row.steps as unknown as RequestStep[],
        };
    }
  }
  const steps = row.steps as unknown as RequestStep[];
  if (row.status === "failed") {
    return {
      kind: "failed",
      code: (row.error_code ?? BrokerCode.AllocationFailed) as BrokerErrorCode,
      data: (row.error_data ?? {}) as BrokerErrorData,
      steps,
    };
  }
  if (row.status === "completed") {
    const server = await liveServer(ctx, row);
    return {
      kind: "state",
      status: "completed",
      message: null,
      server: serverView(server, row.ip, row.instance_id),
      steps,
    };
  }
  const current = steps.at(-1);
  const message =
    row.status === "pending"
      ? "The request is queued."
      : current?.outcome === "running"
        ? (current.detail ?? `Step ${current.name} is running.`)
        : "The request is being processed.";
  return {
    kind: "state",
    status: row.status === "pending" ? "pending" : "in_progress",
    message,
    server: await buildingServer(ctx, row),
    steps,
  };
}

async function liveServer({ deps, log }: BrokerContext, row: RequestRow): Promise<NovaServer | undefined> {
  if (!row.instance_id) return undefined;
  try {
    return await deps.cloud.nova.getServer(row.instance_id);
  } catch (err) {
    log.warn({ err, instance_id: row.instance_id }, "get-vm: cannot read the instance from Nova");
    return undefined;
  }
}

/**
 * While the allocation runs, the server block comes from our record of the instance, which
 * the allocation mirrors from Nova at every poll: clients polling get-vm cost Nova nothing.
 */
async function buildingServer({ deps }: BrokerContext, row: RequestRow): Promise<ServerView> {
  const instance = row.instance_id ? await deps.repos.instances.get(row.instance_id) : undefined;
  return {
    status: instance?.status ?? null,
    vm_state: instance?.vm_state ?? null,
    ip: null,
    progress: instance ? instance.progress : null,
    task_state: instance?.task_state ?? null,
    id: row.instance_id,
  };
}
