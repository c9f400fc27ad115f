// Step wait_active: polls Nova until the instance is ACTIVE, mirroring what Nova says into
// our record (get-vm reads it from there); an instance in ERROR or gone is Unusable, one
// still building after allocation.buildTimeoutSeconds is code 17.
import { isCloudError } from "../../cloud/http.ts";
import type { NovaServer } from "../../cloud/nova.ts";
import type { InstanceRow } from "../../store/holders.ts";
import { BrokerCode, BrokerError } from "../broker-error.ts";
import { failedBuilds } from "../build-failures.ts";
import type { AllocationDeps } from "./deps.ts";
import { Unusable } from "./deps.ts";
import type { StepRecorder } from "./step-recorder.ts";
import { bilingual, type Detail, instanceActive } from "./step-text.ts";

/** Waits `ms`, or rejects as soon as the signal aborts. */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export async function waitActive(
  d: Pick<AllocationDeps, "nova" | "instances" | "buildTimeoutMs" | "pollIntervalMs" | "buildFailures">,
  instance: InstanceRow,
  steps: StepRecorder,
  detail: (t: Detail) => void,
  signal?: AbortSignal,
  opts: { readyAt?: Date } = {},
): Promise<NovaServer> {
  const deadline = Date.now() + d.buildTimeoutMs;
  let known = `${instance.status}|${instance.vm_state}|${instance.task_state}|${instance.progress}`;
  for (;;) {
    let server: NovaServer;
    try {
      server = await d.nova.getServer(instance.id);
    } catch (err) {
      if (!isCloudError(err, "not_found")) throw err;
      await d.instances.markDeleted(instance.id);
      throw new Unusable("DELETED");
    }
    // Our record follows Nova, written only when Nova says something new (a warm instance
    // costs no write).
    const now = `${server.status}|${server.vmState}|${server.taskState}|${server.progress ?? 0}`;
    if (now !== known) {
      await d.instances.applyStatus([
        {
          id: instance.id,
          status: server.status,
          vmState: server.vmState,
          taskState: server.taskState,
          progress: server.progress,
          fault: server.fault?.message ?? null,
        },
      ]);
      known = now;
    }
    if (server.status === "ACTIVE") {
      // A free desktop claimed within its boot grace (core/readiness.ts) is handed out once
      // ready, as the warm path would have, within the build timeout.
      const readyAt = opts.readyAt;
      const wait = readyAt ? Math.min(readyAt.getTime(), deadline) - Date.now() : 0;
      if (readyAt && wait > 0) {
        await steps.note(
          bilingual(
            `waiting for instance ${instance.id} to finish starting (ready at ${readyAt.toISOString()})`,
            `ожидание, пока машина ${instance.id} завершит запуск (готова в ${readyAt.toISOString()})`,
          ),
        );
        await sleep(wait, signal);
      }
      detail(instanceActive(instance.id));
      return server;
    }
    if (failedBuilds([server]).length > 0) await d.buildFailures?.notice([instance.id]);
    if (server.status === "ERROR" || server.status === "DELETED" || server.status === "SOFT_DELETED") {
      const fault = server.fault ? `: ${server.fault.message}` : "";
      detail(
        bilingual(
          `instance ${instance.id} went ${server.status}${fault}`,
          `машина ${instance.id} перешла в ${server.status}${fault}`,
        ),
      );
      throw new Unusable(server.status);
    }
    if (Date.now() >= deadline) {
      const s = d.buildTimeoutMs / 1000;
      detail(
        bilingual(
          `instance ${instance.id} still ${server.status} after ${s} s`,
          `машина ${instance.id} всё ещё в ${server.status} через ${s} с`,
        ),
      );
      throw new BrokerError(BrokerCode.InstanceInvalidState, {
        instance_id: instance.id,
        instance_status: server.status,
      });
    }
    const state =
      server.status +
      (server.taskState ? ` (${server.taskState})` : "") +
      (server.progress ? `, ${server.progress}%` : "");
    await steps.note(
      bilingual(`waiting for instance ${instance.id}: ${state}`, `ожидание машины ${instance.id}: ${state}`),
    );
    await sleep(d.pollIntervalMs, signal);
  }
}
