// Floating IP per user (#22-#25) and the DELETE extension.
import { Type as T } from "@sinclair/typebox";
import type { AdminRoutes } from "./app.ts";
import { PageLinks, pageInMemory, pagingQuery } from "./paged.ts";
import { errors, Id, NoContent } from "./wire.ts";

const UserParams = T.Object({ user_id: Id("User id.") });
const Entry = T.Object({
  id: T.String({ description: "User id." }),
  floating_ip_id: T.Union([T.String(), T.Null()], { description: "Floating IP id (Neutron)." }),
});
const entryExample = {
  id: "56d88dd0a3ab4c4c8d1d15534352d7de",
  floating_ip_id: "c3bdc5ba-cdff-49d0-b84c-ac9329ab1410",
};
const Body = T.Object(
  { floating_ip_id: Id("Floating IP id (Neutron).") },
  { examples: [{ floating_ip_id: "c3bdc5ba-cdff-49d0-b84c-ac9329ab1410" }] },
);
const tags = ["floating-ips"];

export const floatingIpRoutes: AdminRoutes = (app, { core, config }) => {
  app.get(
    "/users",
    {
      schema: {
        tags,
        summary: "Users with a floating IP",
        description:
          "Every user that has a floating IP assigned. Pages: limit, marker (a user id), sort_key (id, floating_ip_id), sort_dir; a next page is in the Link header (and users_links).",
        querystring: T.Object(pagingQuery("users", "id", ["id", "floating_ip_id"], "asc"), {
          additionalProperties: false,
        }),
        response: {
          200: T.Object(
            { users: T.Array(Entry), users_links: PageLinks },
            { example: { users: [entryExample] } },
          ),
          ...errors(),
        },
      },
    },
    async (req, reply) => {
      const users = (await core.floatingIps.list()).map((r) => ({
        id: r.user_id,
        floating_ip_id: r.floating_ip_id,
      }));
      const page = pageInMemory(req, reply, config.admin.maxPageSize, users, {
        sorts: { id: (u) => u.id, floating_ip_id: (u) => u.floating_ip_id },
        idOf: (u) => u.id,
      });
      return { users: page.items, ...(page.links ? { users_links: page.links } : {}) };
    },
  );

  app.get(
    "/users/:user_id",
    {
      schema: {
        tags,
        summary: "A user's floating IP",
        description:
          "A list of one entry, as in the reference; floating_ip_id is null when the user has none. 404 when Keystone does not know the user.",
        params: UserParams,
        response: {
          200: T.Object({ user: T.Array(Entry) }, { example: { user: [entryExample] } }),
          ...errors(404),
        },
      },
    },
    async (req) => {
      const entry = await core.floatingIps.show(req.params.user_id);
      return { user: [{ id: entry.user_id, floating_ip_id: entry.floating_ip_id }] };
    },
  );

  app.post(
    "/users/:user_id/floating-ip",
    {
      schema: {
        tags,
        summary: "Assign a floating IP to a user",
        description:
          "The floating IP must exist in Neutron (400). 409 when the user already has one or the IP belongs to another user.",
        params: UserParams,
        body: Body,
        response: { 204: NoContent, ...errors(400, 404, 409) },
      },
    },
    async (req, reply) => {
      await core.floatingIps.create(req.params.user_id, req.body.floating_ip_id);
      return reply.code(204).send(null);
    },
  );

  app.put(
    "/users/:user_id/floating-ip",
    {
      schema: {
        tags,
        summary: "Change a user's floating IP",
        description:
          "Replaces the user's floating IP (sets it when the user had none). 409 when it belongs to another user.",
        params: UserParams,
        body: Body,
        response: { 204: NoContent, ...errors(400, 404, 409) },
      },
    },
    async (req, reply) => {
      await core.floatingIps.replace(req.params.user_id, req.body.floating_ip_id);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    "/users/:user_id/floating-ip",
    {
      schema: {
        tags,
        summary: "Remove a user's floating IP (extension)",
        description: "The floating IP itself stays in Neutron. 404 when the user has none.",
        params: UserParams,
        response: { 204: NoContent, ...errors(404) },
      },
    },
    async (req, reply) => {
      await core.floatingIps.remove(req.params.user_id);
      return reply.code(204).send(null);
    },
  );
};
