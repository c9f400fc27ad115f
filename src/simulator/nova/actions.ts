// POST /servers/{id}/action: os-stop, os-start, reboot, rebuild, addSecurityGroup,
// removeSecurityGroup, lock and unlock, with Nova's state checks (409 for a server in the
// wrong state).
import type { FastifyInstance } from "fastify";
import { badRequest, invalidState, NovaFault, notFound, policyDenied } from "./errors.ts";
import { actionDelay, begin, novaTime } from "./lifecycle.ts";
import { call, type NovaEnv } from "./scope.ts";
import { visibleServer } from "./servers.ts";
import type { ServerRecord } from "./state.ts";
import { serverView } from "./views.ts";

function requireState(s: ServerRecord, action: string, states: ServerRecord["vm_state"][]): void {
  if (!states.includes(s.vm_state) || s.task_state === "deleting") {
    throw invalidState(action, s.id, s.vm_state);
  }
}

export function actionRoutes(app: FastifyInstance, env: NovaEnv): void {
  app.post<{ Params: { id: string } }>("/v2.1/servers/:id/action", async (req, reply) => {
    const c = call(req);
    const s = visibleServer(env, req, req.params.id);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const [action] = Object.keys(body);
    const arg = (action ? body[action] : undefined) as Record<string, unknown> | null | undefined;
    if (s.locked && !c.admin && action !== "unlock") throw new NovaFault(409, `Instance ${s.id} is locked`);
    switch (action) {
      case "os-stop":
        requireState(s, "stop", ["active", "error"]);
        if (s.task_state) throw new NovaFault(409, `Instance ${s.id} is in task_state ${s.task_state}`);
        s.task_state = "powering-off";
        s.updated = novaTime();
        begin(env, s, "stop", actionDelay(env));
        return reply.code(202).send();
      case "os-start":
        requireState(s, "start", ["stopped"]);
        if (s.task_state) throw new NovaFault(409, `Instance ${s.id} is in task_state ${s.task_state}`);
        s.task_state = "powering-on";
        s.updated = novaTime();
        begin(env, s, "start", actionDelay(env));
        return reply.code(202).send();
      case "reboot": {
        const type = String(arg?.type ?? "");
        if (type !== "SOFT" && type !== "HARD") {
          throw badRequest(
            `Invalid input for field/attribute type. Value: ${type}. '${type}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']`,
          );
        }
        requireState(s, "reboot", type === "HARD" ? ["active", "stopped", "error"] : ["active"]);
        s.task_state = type === "HARD" ? "rebooting_hard" : "rebooting";
        s.updated = novaTime();
        begin(env, s, "reboot", actionDelay(env));
        return reply.code(202).send();
      }
      case "rebuild": {
        // Nova: 202 with the server (REBUILD); the image may be a new one (a roll-out) or the
        // same (a fresh desktop); the disk is re-imaged, ports and volumes stay attached.
        const ref =
          typeof arg?.imageRef === "string" ? arg.imageRef.replace(/\/+$/, "").split("/").pop()! : "";
        if (!ref) throw badRequest("Invalid imageRef provided.");
        const image = env.glance.images.get(ref);
        if (!image || !env.glance.visibleTo(image, c.projectId, c.admin))
          throw badRequest(`Image ${ref} could not be found.`);
        if (image.status !== "active") throw badRequest(`Image ${ref} is not active.`);
        requireState(s, "rebuild", ["active", "stopped", "error"]);
        if (s.task_state) throw new NovaFault(409, `Instance ${s.id} is in task_state ${s.task_state}`);
        s.image_id = image.id;
        s.task_state = "rebuilding";
        s.updated = novaTime();
        begin(env, s, "rebuild", actionDelay(env));
        return reply.code(202).send({ server: serverView(env, s, c, { show: true }) });
      }
      case "addSecurityGroup":
      case "removeSecurityGroup": {
        const name = String(arg?.name ?? "");
        if (!name) throw badRequest("Security group name cannot be empty");
        const group = env.neutron.findGroup(s.project_id, name);
        if (!group) throw notFound(`Security group ${name} not found for project ${s.project_id}.`);
        const ports = env.neutron.portsOfDevice(s.id);
        if (ports.length === 0)
          throw badRequest(`Instance ${s.id} has no ports; cannot apply security groups`);
        const has = ports.some((p) => p.security_groups.includes(group.id));
        if (action === "addSecurityGroup") {
          if (has) {
            throw badRequest(`Security group ${name} is already associated with the instance ${s.id}`);
          }
          for (const p of ports) p.security_groups = [...p.security_groups, group.id];
        } else {
          if (!has) throw notFound(`Security group ${name} not associated with the instance ${s.id}`);
          for (const p of ports) p.security_groups = p.security_groups.filter((g) => g !== group.id);
        }
        return reply.code(202).send();
      }
      case "lock":
        s.locked = true;
        s.locked_reason = c.minor >= 73 ? ((arg?.locked_reason as string | undefined) ?? null) : null;
        s.updated = novaTime();
        return reply.code(202).send();
      case "unlock":
        if (s.locked && !c.admin && s.project_id !== c.projectId)
          throw policyDenied("os_compute_api:os-lock-server:unlock");
        s.locked = false;
        s.locked_reason = null;
        s.updated = novaTime();
        return reply.code(202).send();
      default:
        throw new NovaFault(400, `There is no such action: ${action ?? ""}`);
    }
  });
}
