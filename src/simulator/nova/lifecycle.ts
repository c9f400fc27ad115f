// Asynchronous server transitions on the cloud's single timeline: BUILD → ACTIVE (or ERROR
// with a fault, or forever BUILD when told to stick), stop/start/reboot/rebuild, and deletion, which
// releases the server's ports and detaches its volumes once the server is gone.
import { isoSeconds } from "../context.ts";
import type { NovaEnv } from "./scope.ts";
import type { PendingKind, ServerRecord } from "./state.ts";

/** Stop, start, reboot and delete take a quarter of a build: quick, but observably async. */
export const actionDelay = (env: NovaEnv) => Math.max(1, Math.round(env.ctx.options.buildDelayMs / 4));

export const novaTime = () => isoSeconds(new Date());
/** launched_at/terminated_at are microsecond timestamps without a zone in Nova's views. */
export const novaMicro = () => new Date().toISOString().replace("Z", "000");

export function begin(
  env: NovaEnv,
  s: ServerRecord,
  kind: PendingKind,
  delayMs: number,
  outcome?: "active" | "error" | "stuck",
): void {
  const now = Date.now();
  s.pending = { kind, due_at: now + delayMs, started_at: now, ...(outcome ? { outcome } : {}) };
  if (outcome === "stuck") return;
  arm(env, s);
}

/** Puts the server's pending transition on the timeline (also used after a restore). */
export function arm(env: NovaEnv, s: ServerRecord): void {
  const p = s.pending;
  if (!p || p.outcome === "stuck") return;
  const due = p.due_at;
  env.schedule(due, () => {
    if (env.state.servers.get(s.id) !== s || s.pending?.due_at !== due) return;
    complete(env, s);
  });
}

function complete(env: NovaEnv, s: ServerRecord): void {
  const kind = s.pending!.kind;
  const outcome = s.pending!.outcome;
  s.pending = null;
  s.updated = novaTime();
  switch (kind) {
    case "build":
      if (outcome === "error") {
        s.vm_state = "error";
        s.task_state = null;
        s.power_state = 0;
        s.host = null;
        s.fault = {
          code: 500,
          message: "No valid host was found. There are not enough hosts available.",
          details:
            "Traceback (most recent call last):\n  nova.exception.NoValidHost: No valid host was found.",
          created: novaTime(),
        };
        // Nova deallocates the networks of a server that failed to build.
        releasePorts(env, s);
      } else {
        s.vm_state = "active";
        s.task_state = null;
        s.power_state = 1;
        s.launched_at = novaMicro();
      }
      return;
    case "stop":
      s.vm_state = "stopped";
      s.task_state = null;
      s.power_state = 4;
      return;
    case "rebuild":
      // Nova boots the rebuilt server whatever state it was in.
      s.vm_state = "active";
      s.task_state = null;
      s.power_state = 1;
      s.fault = null;
      s.launched_at = novaMicro();
      return;
    case "start":
    case "reboot":
      s.vm_state = "active";
      s.task_state = null;
      s.power_state = 1;
      return;
    case "delete":
      releasePorts(env, s);
      for (const a of s.volumes) {
        const v = env.cinder.volumes.get(a.volume_id);
        if (v) env.cinder.detach(v);
      }
      s.volumes = [];
      env.state.remove(s, novaTime());
      return;
  }
}

function releasePorts(env: NovaEnv, s: ServerRecord): void {
  const ours = new Set(s.created_ports);
  for (const p of env.neutron.portsOfDevice(s.id)) {
    if (ours.has(p.id)) env.neutron.removePort(p.id);
    else env.neutron.setDevice(p, "", "");
  }
  s.created_ports = [];
}
