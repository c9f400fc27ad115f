// /servers/{id}/os-volume_attachments: attach drives the Cinder volume available →
// attaching → in-use; detach in-use → detaching → available.
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { CinderFault } from "../cinder/state.ts";
import { badRequest, invalidState, NovaFault, notFound } from "./errors.ts";
import { novaTime } from "./lifecycle.ts";
import { call, type NovaCall, type NovaEnv } from "./scope.ts";
import { visibleServer } from "./servers.ts";
import type { ServerRecord, VolumeAttachment } from "./state.ts";

function attachmentView(s: ServerRecord, a: VolumeAttachment, c: NovaCall): Record<string, unknown> {
  const view: Record<string, unknown> = { serverId: s.id, volumeId: a.volume_id, device: a.device };
  if (c.minor < 89) view.id = a.volume_id;
  if (c.minor >= 70) view.tag = a.tag;
  if (c.minor >= 79) view.delete_on_termination = a.delete_on_termination;
  if (c.minor >= 89) {
    view.attachment_id = a.attachment_id;
    view.bdm_uuid = a.bdm_uuid;
  }
  return view;
}

function nextDevice(s: ServerRecord): string {
  const used = new Set(s.volumes.map((a) => a.device));
  for (let i = 1; i < 26; i++) {
    const dev = `/dev/vd${String.fromCharCode(97 + i)}`;
    if (!used.has(dev)) return dev;
  }
  throw badRequest("No free disk device names for prefix 'vd'");
}

export function volumeAttachmentRoutes(app: FastifyInstance, env: NovaEnv): void {
  const find = (s: ServerRecord, volumeId: string) => {
    const a = s.volumes.find((x) => x.volume_id === volumeId);
    if (!a) throw notFound(`Volume attachment could not be found with filter: volume_id = ${volumeId}`);
    return a;
  };

  app.get<{ Params: { id: string } }>("/v2.1/servers/:id/os-volume_attachments", async (req) => {
    const c = call(req);
    const s = visibleServer(env, req, req.params.id);
    return { volumeAttachments: s.volumes.map((a) => attachmentView(s, a, c)) };
  });

  app.get<{ Params: { id: string; volumeId: string } }>(
    "/v2.1/servers/:id/os-volume_attachments/:volumeId",
    async (req) => {
      const s = visibleServer(env, req, req.params.id);
      return { volumeAttachment: attachmentView(s, find(s, req.params.volumeId), call(req)) };
    },
  );

  app.post<{ Params: { id: string } }>("/v2.1/servers/:id/os-volume_attachments", async (req) => {
    const c = call(req);
    const s = visibleServer(env, req, req.params.id);
    const body = (req.body as { volumeAttachment?: Record<string, unknown> } | undefined)?.volumeAttachment;
    const volumeId = body?.volumeId;
    if (typeof volumeId !== "string") {
      throw badRequest(
        "Invalid input for field/attribute volumeAttachment. Value: None. 'volumeId' is a required property",
      );
    }
    if (!["active", "stopped"].includes(s.vm_state) || s.task_state === "deleting") {
      throw invalidState("attach_volume", s.id, s.vm_state);
    }
    const v = env.cinder.volumes.get(volumeId);
    if (!v || (!c.admin && v.project_id !== c.projectId))
      throw notFound(`Volume ${volumeId} could not be found.`);
    if (s.volumes.some((a) => a.volume_id === volumeId)) {
      throw badRequest(`Invalid volume: Volume ${volumeId} is already attached to instance ${s.id}`);
    }
    const device = typeof body?.device === "string" && body.device ? body.device : nextDevice(s);
    try {
      env.cinder.attach(v, s.id, device);
    } catch (e) {
      // Nova passes Cinder's refusal through as its own 400.
      if (e instanceof CinderFault)
        throw new NovaFault(400, `Invalid input received: ${e.message} (HTTP 400)`);
      throw e;
    }
    const a: VolumeAttachment = {
      volume_id: volumeId,
      device,
      attachment_id: v.attachments[0]?.attachment_id ?? randomUUID(),
      bdm_uuid: randomUUID(),
      delete_on_termination: c.minor >= 79 && body?.delete_on_termination === true,
      tag: c.minor >= 49 && typeof body?.tag === "string" ? body.tag : null,
    };
    s.volumes.push(a);
    s.updated = novaTime();
    return { volumeAttachment: attachmentView(s, a, c) };
  });

  app.delete<{ Params: { id: string; volumeId: string } }>(
    "/v2.1/servers/:id/os-volume_attachments/:volumeId",
    async (req, reply) => {
      const s = visibleServer(env, req, req.params.id);
      const a = find(s, req.params.volumeId);
      if (!["active", "stopped", "error"].includes(s.vm_state) || s.task_state === "deleting") {
        throw invalidState("detach_volume", s.id, s.vm_state);
      }
      const v = env.cinder.volumes.get(a.volume_id);
      if (v?.status === "attaching") {
        throw badRequest(
          `Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.`,
        );
      }
      if (v) env.cinder.detach(v);
      s.volumes = s.volumes.filter((x) => x !== a);
      s.updated = novaTime();
      return reply.code(202).send();
    },
  );
}
