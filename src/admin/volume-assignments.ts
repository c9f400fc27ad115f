// Volume assignments (#29-#31) and the DELETE extension. The create body is unwrapped, as in
// the reference.
import { Type as T } from "@sinclair/typebox";
import type { VolumeAssignment } from "../core/volume-assignments.ts";
import { PAGING_PARAMS } from "../http/paging.ts";
import { parseFilters } from "../http/query.ts";
import type { AdminRoutes } from "./app.ts";
import { PageLinks, pageInMemory, pagingQuery } from "./paged.ts";
import { errors, Id, NoContent } from "./wire.ts";

const Assignment = T.Object({
  id: T.Integer({ description: "Volume assignment id." }),
  user_id: T.String({ description: "User id." }),
  project_id: T.String({ description: "TRS project id." }),
  volume_id: T.String({ description: "Volume id (Cinder)." }),
});
const example = {
  id: 5,
  project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f",
  user_id: "c72a1b62a8194426a0e4c40a4b4d77a0",
  volume_id: "c8327ff2-eb85-4495-ab68-df4aa36d7ae0",
};
const json = (v: VolumeAssignment) => ({
  id: v.id,
  user_id: v.user_id,
  project_id: v.project_id,
  volume_id: v.volume_id,
});
const Params = T.Object({ assignment_id: Id("Volume assignment id.") });
const tags = ["volume-assignments"];

export const volumeAssignmentRoutes: AdminRoutes = (app, { core, config }) => {
  app.get(
    "/volume-assignments",
    {
      schema: {
        tags,
        summary: "List volume assignments",
        description:
          "Filters (with modifiers): user_id, project_id, volume_id. Pages: limit, marker (an id), sort_key (id, user_id, project_id, volume_id), sort_dir; a next page is in the Link header (and volume-assignments_links).",
        querystring: T.Object(
          {
            user_id: T.Optional(T.String({ description: "User id." })),
            project_id: T.Optional(T.String({ description: "TRS project id." })),
            volume_id: T.Optional(T.String({ description: "Volume id." })),
            ...pagingQuery("volume assignments", "id", ["id", "user_id", "project_id", "volume_id"], "asc"),
          },
          { additionalProperties: true },
        ),
        response: {
          200: T.Object(
            { "volume-assignments": T.Array(Assignment), "volume-assignments_links": PageLinks },
            { example: { "volume-assignments": [example] } },
          ),
          ...errors(400),
        },
      },
    },
    async (req, reply) => {
      const { filters, plain } = parseFilters(req.query, {
        modifiable: ["user_id", "project_id", "volume_id"],
        plain: [...PAGING_PARAMS],
      });
      const page = pageInMemory(
        req,
        reply,
        config.admin.maxPageSize,
        await core.volumeAssignments.list(filters),
        {
          sorts: {
            id: (v) => v.id,
            user_id: (v) => v.user_id,
            project_id: (v) => v.project_id,
            volume_id: (v) => v.volume_id,
          },
          idOf: (v) => v.id,
        },
        plain,
      );
      return {
        "volume-assignments": page.items.map(json),
        ...(page.links ? { "volume-assignments_links": page.links } : {}),
      };
    },
  );

  app.get(
    "/volume-assignments/:assignment_id",
    {
      schema: {
        tags,
        summary: "Show a volume assignment",
        description: "404 when no assignment has this id.",
        params: Params,
        response: {
          200: T.Object({ "volume-assignment": Assignment }, { example: { "volume-assignment": example } }),
          ...errors(404),
        },
      },
    },
    async (req) => ({
      "volume-assignment": json(await core.volumeAssignments.get(req.params.assignment_id)),
    }),
  );

  app.post(
    "/volume-assignments",
    {
      schema: {
        tags,
        summary: "Assign a volume to a user",
        description:
          "The project must be a TRS project, the user known to Keystone and the volume known to Cinder (400 otherwise). One volume per user per project, and a volume belongs to one user (409).",
        body: T.Object(
          {
            user_id: Id("User id."),
            project_id: Id("TRS project id."),
            volume_id: Id("Volume id (Cinder)."),
          },
          {
            examples: [
              {
                user_id: "c72a1b62a8194426a0e4c40a4b4d77a0",
                project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f",
                volume_id: "c8327ff2-eb85-4495-ab68-df4aa36d7ae0",
              },
            ],
          },
        ),
        response: {
          200: T.Object({ "volume-assignment": Assignment }, { example: { "volume-assignment": example } }),
          ...errors(400, 409),
        },
      },
    },
    async (req) => ({ "volume-assignment": json(await core.volumeAssignments.create(req.body)) }),
  );

  app.delete(
    "/volume-assignments/:assignment_id",
    {
      schema: {
        tags,
        summary: "Delete a volume assignment (extension)",
        description: "The volume itself stays in Cinder.",
        params: Params,
        response: { 204: NoContent, ...errors(404) },
      },
    },
    async (req, reply) => {
      await core.volumeAssignments.remove(req.params.assignment_id);
      return reply.code(204).send(null);
    },
  );
};
