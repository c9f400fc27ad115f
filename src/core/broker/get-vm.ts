// get-vm: the state of a request for its owner — pending, in progress (with the step
// running and our record of the instance), completed (with Nova's view of the instance), or
// the request's own broker code; 10 for an unknown request, 11 for someone else's.
import type { RequestStep } from "../../shared/types.ts";
import type { RequestInstance } from "../../store/requests.ts";
import { bilingual, type StepText, setDetail } from "../allocation/step-text.ts";
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

/** The server block, from our record of the instance (the allocation and the build watcher keep it in step with Nova). */
function serverView(instance: RequestInstance | undefined, ip: string | null, id: string | null): ServerView {
  return {
    status: instance?.status ?? null,
    vm_state: instance?.vm_state ?? null,
    ip,
    progress: instance ? (instance.progress ?? 0) : null,
    task_state: instance?.task_state ?? null,
    id,
  };
}

/** What a desktop user is told of a failed step: OpenStack's own words are for the admin. */
const FAILED_STEP: Record<string, StepText> = {
  find_instance: bilingual("Finding an instance failed.", "Не удалось найти машину."),
  create_instance: bilingual("The cloud could not create an instance.", "Облако не смогло создать машину."),
  wait_active: bilingual("The instance did not become ready.", "Машина не стала готовой к работе."),
  floating_ip: bilingual(
    "The instance's floating IP could not be set up.",
    "Не удалось настроить плавающий IP-адрес машины.",
  ),
  volume: bilingual("The user volume could not be attached.", "Не удалось подключить диск пользователя."),
  resolve_ip: bilingual("The instance's address could not be found.", "Не удалось определить адрес машины."),
  previous_sessions: bilingual("Earlier sessions could not be closed.", "Не удалось закрыть прежние сеансы."),
  client_rules: bilingual(
    "The client's network access could not be opened.",
    "Не удалось открыть сетевой доступ для клиента.",
  ),
  session: bilingual("The session could not be recorded.", "Не удалось записать сеанс."),
};
const STEP_FAILED = bilingual("The step failed.", "Шаг не выполнен.");

/**
 * The steps as the request's owner sees them: a failed step says which step failed, not why
 * (OpenStack's error text names hosts, projects and internals), in every language: its
 * translations carry the cause too. The request's record keeps the cause, which the admin API
 * shows (GET /v1/tasks/{id}, the dashboard).
 */
export function stepsForUser(steps: RequestStep[]): RequestStep[] {
  return steps.map((s) => {
    if (s.outcome !== "failed") return s;
    const told = { ...s };
    setDetail(told, FAILED_STEP[s.name] ?? STEP_FAILED);
    return told;
  });
}

export async function getVm(ctx: BrokerContext, userId: string, requestId: string): Promise<GetVmResult> {
  const result = await requestState(ctx, userId, requestId);
  return { ...result, steps: stepsForUser(result.steps) };
}

async function requestState(ctx: BrokerContext, userId: string, requestId: string): Promise<GetVmResult> {
  const { deps } = ctx;
  const requests = deps.repos.requests;
  const found = await requests.withInstance(requestId);
  if (!found) throw new BrokerError(BrokerCode.RequestNotFound, {}, `no request ${requestId}`);
  let row = found.request;
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
    return {
      kind: "state",
      status: "completed",
      message: null,
      server: serverView(found.instance, row.ip, row.instance_id),
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
    // While the allocation runs it mirrors Nova into our record at every poll of the build:
    // clients polling get-vm cost Nova nothing.
    server: serverView(found.instance, null, row.instance_id),
    steps,
  };
}
