// Drain and golden-image roll-out (issue 16): POST /v1/projects/{id}/drain|undrain,
// POST /v1/servers/{id}/drain|undrain, and /v1/projects/{id}/rollout (begin, show, pause,
// resume, rollback). The rules are in core/drain.ts and core/rollout.ts.

import { Type as T } from "@sinclair/typebox";
import type { RolloutStatus } from "../core/rollout.ts";
import { callerOf } from "../http/auth.ts";
import { notFound } from "../http/errors.ts";
import type { AdminRoutes } from "./app.ts";
import * as s from "./drain-schemas.ts";
import { Project, projectExample } from "./project-schemas.ts";
import { projectJson } from "./projects.ts";
import { Server, serverExample, serverJson } from "./servers.ts";
import { errors, isoUtc } from "./wire.ts";

export function rolloutJson(status: RolloutStatus, withEvents = false) {
  const r = status.rollout;
  return {
    id: r.id,
    state: r.state,
    from_image_id: r.from_image_id,
    to_image_id: r.to_image_id,
    old: status.progress.old,
    new: status.progress.new,
    old_assigned: status.progress.oldAssigned,
    replaced: r.replaced,
    batch_size: r.batch_size,
    deadline: isoUtc(r.deadline),
    warn_before_seconds: r.warn_before_seconds,
    warned_at: isoUtc(r.warned_at),
    created_by: r.created_by,
    created_at: isoUtc(r.created_at),
    finished_at: isoUtc(r.finished_at),
    ...(withEvents ? { events: r.events } : {}),
  };
}

const projectAnswer = {
  200: T.Object({ project: Project }, { example: { project: projectExample } }),
  ...errors(400, 404),
};
const serverAnswer = {
  200: T.Object({ server: Server }, { example: { server: serverExample } }),
  ...errors(400, 404),
};

export const drainRoutes: AdminRoutes = (app, { core }) => {
  app.post(
    "/projects/:project_id/drain",
    {
      schema: {
        tags: ["projects"],
        summary: "Drain a TRS project (extension)",
        description:
          "No new allocation goes to the project: request-vm of a user who holds none of its desktops ends with broker code 14 (the reason in the request's steps); users who hold one keep getting it, open sessions go on; the reserve is not refilled. Idempotent.",
        params: s.ProjectParams,
        body: s.DrainBody,
        response: projectAnswer,
      },
    },
    async (req) => {
      const pool = await core.drain.drainPool(
        req.params.project_id,
        req.body?.reason ?? null,
        callerOf(req).userId,
      );
      return { project: projectJson(await core.pools.view(pool)) };
    },
  );

  app.post(
    "/projects/:project_id/undrain",
    {
      schema: {
        tags: ["projects"],
        summary: "Undrain a TRS project (extension)",
        description: "Reverses drain: allocations and the reserve resume. Idempotent.",
        params: s.ProjectParams,
        response: projectAnswer,
      },
    },
    async (req) => {
      const pool = await core.drain.undrainPool(req.params.project_id, callerOf(req).userId);
      return { project: projectJson(await core.pools.view(pool)) };
    },
  );

  app.post(
    "/servers/:server_id/drain",
    {
      schema: {
        tags: ["servers"],
        summary: "Drain a TRS instance (extension)",
        description:
          "No new holder gets the instance (claims pass it by, it no longer counts as free in the reserve); its users keep it and its sessions go on. Idempotent.",
        params: s.ServerParams,
        response: serverAnswer,
      },
    },
    async (req) => {
      const instance = await core.drain.drainInstance(req.params.server_id, callerOf(req).userId);
      return { server: serverJson({ instance: await core.instances.view(instance.id) }) };
    },
  );

  app.post(
    "/servers/:server_id/undrain",
    {
      schema: {
        tags: ["servers"],
        summary: "Undrain a TRS instance (extension)",
        description: "Reverses drain. Idempotent.",
        params: s.ServerParams,
        response: serverAnswer,
      },
    },
    async (req) => {
      const instance = await core.drain.undrainInstance(req.params.server_id, callerOf(req).userId);
      return { server: serverJson({ instance: await core.instances.view(instance.id) }) };
    },
  );

  app.post(
    "/projects/:project_id/rollout",
    {
      schema: {
        tags: ["projects"],
        summary: "Begin a golden-image roll-out (extension)",
        description:
          "The project's image becomes image_id (as PUT image_id does) and its instances are replaced at a bounded rate: free ones first, assigned ones once their holder has no open session, or at the deadline after a warning. A roll-out still in progress is superseded. 409 when image_id is already the project's image.",
        params: s.ProjectParams,
        body: s.RolloutBody,
        response: s.RolloutAnswer,
      },
    },
    async (req) => {
      const b = req.body.rollout;
      const status = await core.rollouts.start(
        req.params.project_id,
        {
          imageId: b.image_id,
          batchSize: b.batch_size,
          deadline: b.deadline,
          warnBeforeSeconds: b.warn_before_seconds,
        },
        callerOf(req).userId,
      );
      return { rollout: rolloutJson(status, true) };
    },
  );

  app.get(
    "/projects/:project_id/rollout",
    {
      schema: {
        tags: ["projects"],
        summary: "Show the project's roll-out (extension)",
        description:
          "The roll-out in progress, else the last one, with its events. 404 when it never had one.",
        params: s.ProjectParams,
        response: s.RolloutAnswer,
      },
    },
    async (req) => {
      const status = await core.rollouts.status(req.params.project_id);
      if (!status) throw notFound(`TRS project ${req.params.project_id} has had no roll-out`);
      return { rollout: rolloutJson(status, true) };
    },
  );

  for (const action of ["pause", "resume"] as const) {
    app.post(
      `/projects/:project_id/rollout/${action}`,
      {
        schema: {
          tags: ["projects"],
          summary: `${action === "pause" ? "Pause" : "Resume"} the project's roll-out (extension)`,
          description:
            action === "pause"
              ? "No instance is replaced until resume. 409 when no roll-out is running."
              : "Replacements go on. 409 when no roll-out is paused.",
          params: s.ProjectParams,
          response: s.RolloutAnswer,
        },
      },
      async (req) => {
        const caller = callerOf(req).userId;
        const status =
          action === "pause"
            ? await core.rollouts.pause(req.params.project_id, caller)
            : await core.rollouts.resume(req.params.project_id, caller);
        return { rollout: rolloutJson(status, true) };
      },
    );
  }

  app.post(
    "/projects/:project_id/rollout/rollback",
    {
      schema: {
        tags: ["projects"],
        summary: "Roll back to the previous image (extension)",
        description:
          "Begins a roll-out back to the image before the last roll-out; that one ends as rolled_back (its task REVOKED). Instances already rebuilt are replaced again, at the same bounded rate. 409 when there is nothing to roll back.",
        params: s.ProjectParams,
        body: s.RollbackBody,
        response: s.RolloutAnswer,
      },
    },
    async (req) => {
      const o = req.body?.rollout ?? {};
      const status = await core.rollouts.rollback(
        req.params.project_id,
        { batchSize: o.batch_size, deadline: o.deadline, warnBeforeSeconds: o.warn_before_seconds },
        callerOf(req).userId,
      );
      return { rollout: rolloutJson(status, true) };
    },
  );
};
