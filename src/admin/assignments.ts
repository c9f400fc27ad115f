// Users and groups of TRS instances (#13-#21): assign, list, unassign. Every change is kept in
// the assignment history with the caller as its actor.
import { Type as T } from "@sinclair/typebox";
import { callerOf } from "../http/auth.ts";
import type { AdminRoutes } from "./app.ts";
import { PageLinks, pageInMemory, pagingQuery } from "./paged.ts";
import { errors, Id, IdList, NoContent } from "./wire.ts";

const ServerParams = T.Object({ server_id: Id("Instance id.") });
const UserParams = T.Object({ user_id: Id("User id.") });
const GroupParams = T.Object({ group_id: Id("Group id.") });
const IdObjects = (what: string) => T.Array(T.Object({ id: T.String() }), { description: `${what} ids.` });
const example2 = ["d91232fa14ad4e41980ad82dc9ea3929", "2506940c22f94b81a865f9aa6e7d7cba"];
const tags = ["assignments"];

const byId = { sorts: { id: (e: { id: string }) => e.id }, idOf: (e: { id: string }) => e.id };

export const assignmentRoutes: AdminRoutes = (app, { core, config }) => {
  app.post(
    "/servers/:server_id/users",
    {
      schema: {
        tags,
        summary: "Assign users to an instance",
        description:
          "Users must exist in Keystone (400). A Standard project's instance holds one user (409); assigning an existing pair changes nothing.",
        params: ServerParams,
        body: T.Object({ users: IdList("User ids.") }, { examples: [{ users: example2 }] }),
        response: { 204: NoContent, ...errors(400, 404, 409) },
      },
    },
    async (req, reply) => {
      await core.assignments.assignUsers(req.params.server_id, req.body.users, callerOf(req).userId);
      return reply.code(204).send(null);
    },
  );

  app.post(
    "/servers/:server_id/groups",
    {
      schema: {
        tags,
        summary: "Assign groups to an instance",
        description: "Groups must exist in Keystone (400); assigning an existing pair changes nothing.",
        params: ServerParams,
        body: T.Object({ groups: IdList("Group ids.") }, { examples: [{ groups: example2 }] }),
        response: { 204: NoContent, ...errors(400, 404) },
      },
    },
    async (req, reply) => {
      await core.assignments.assignGroups(req.params.server_id, req.body.groups, callerOf(req).userId);
      return reply.code(204).send(null);
    },
  );

  app.post(
    "/users/:user_id/servers",
    {
      schema: {
        tags,
        summary: "Assign a user to instances",
        description:
          "All or nothing: an unknown instance (400) or a full Standard instance (409) changes nothing.",
        params: UserParams,
        body: T.Object({ servers: IdList("Instance ids.") }, { examples: [{ servers: example2 }] }),
        response: { 204: NoContent, ...errors(400, 404, 409) },
      },
    },
    async (req, reply) => {
      await core.assignments.assignUserToServers(req.params.user_id, req.body.servers, callerOf(req).userId);
      return reply.code(204).send(null);
    },
  );

  app.post(
    "/groups/:group_id/servers",
    {
      schema: {
        tags,
        summary: "Assign a group to instances",
        description: "All or nothing: an unknown instance (400) changes nothing.",
        params: GroupParams,
        body: T.Object({ servers: IdList("Instance ids.") }, { examples: [{ servers: example2 }] }),
        response: { 204: NoContent, ...errors(400, 404) },
      },
    },
    async (req, reply) => {
      await core.assignments.assignGroupToServers(
        req.params.group_id,
        req.body.servers,
        callerOf(req).userId,
      );
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/users/:user_id/servers",
    {
      schema: {
        tags,
        summary: "Instances of a user",
        description:
          "Instances assigned to the user directly, with their TRS project. Pages: limit, marker (an instance_id), sort_key (instance_id, project_id, project_name), sort_dir; a next page is in the Link header (and servers_links).",
        params: UserParams,
        querystring: T.Object(
          pagingQuery("instances", "instance_id", ["instance_id", "project_id", "project_name"], "asc"),
          {
            additionalProperties: false,
          },
        ),
        response: {
          200: T.Object(
            {
              servers: T.Array(
                T.Object({ instance_id: T.String(), project_id: T.String(), project_name: T.String() }),
              ),
              servers_links: PageLinks,
            },
            {
              example: {
                servers: [
                  {
                    instance_id: "64946d43-6bec-4a34-898c-25b67426e3e4",
                    project_id: "10145e7899324f03bef44502e316bf96",
                    project_name: "trs_project1",
                  },
                ],
              },
            },
          ),
          ...errors(404),
        },
      },
    },
    async (req, reply) => {
      const page = pageInMemory(
        req,
        reply,
        config.admin.maxPageSize,
        await core.assignments.serversOfUser(req.params.user_id),
        {
          sorts: {
            instance_id: (s) => s.instance_id,
            project_id: (s) => s.project_id,
            project_name: (s) => s.project_name,
          },
          idOf: (s) => s.instance_id,
        },
      );
      return { servers: page.items, ...(page.links ? { servers_links: page.links } : {}) };
    },
  );

  app.get(
    "/servers/:server_id/users",
    {
      schema: {
        tags,
        summary: "Users of an instance",
        description:
          "Users assigned to the instance directly. Pages: limit, marker (a user id), sort_key (id), sort_dir; a next page is in the Link header (and users_links).",
        params: ServerParams,
        querystring: T.Object(pagingQuery("users", "id", ["id"], "asc"), { additionalProperties: false }),
        response: {
          200: T.Object(
            { users: IdObjects("User"), users_links: PageLinks },
            { example: { users: example2.map((id) => ({ id })) } },
          ),
          ...errors(404),
        },
      },
    },
    async (req, reply) => {
      const users = (await core.assignments.usersOf(req.params.server_id)).map((id) => ({ id }));
      const page = pageInMemory(req, reply, config.admin.maxPageSize, users, byId);
      return { users: page.items, ...(page.links ? { users_links: page.links } : {}) };
    },
  );

  app.get(
    "/servers/:server_id/groups",
    {
      schema: {
        tags,
        summary: "Groups of an instance",
        description:
          "Groups assigned to the instance. Pages: limit, marker (a group id), sort_key (id), sort_dir; a next page is in the Link header (and groups_links).",
        params: ServerParams,
        querystring: T.Object(pagingQuery("groups", "id", ["id"], "asc"), { additionalProperties: false }),
        response: {
          200: T.Object(
            { groups: IdObjects("Group"), groups_links: PageLinks },
            { example: { groups: example2.map((id) => ({ id })) } },
          ),
          ...errors(404),
        },
      },
    },
    async (req, reply) => {
      const groups = (await core.assignments.groupsOf(req.params.server_id)).map((id) => ({ id }));
      const page = pageInMemory(req, reply, config.admin.maxPageSize, groups, byId);
      return { groups: page.items, ...(page.links ? { groups_links: page.links } : {}) };
    },
  );

  app.delete(
    "/servers/:server_id/users/:user_id",
    {
      schema: {
        tags,
        summary: "Unassign a user from an instance",
        description:
          "The user's open sessions on the instance are closed and their client rules removed. 404 when the instance is unknown or the user is not assigned to it.",
        params: T.Object({ server_id: Id("Instance id."), user_id: Id("User id.") }),
        response: { 204: NoContent, ...errors(404) },
      },
    },
    async (req, reply) => {
      await core.assignments.unassignUser(req.params.server_id, req.params.user_id, callerOf(req).userId);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    "/servers/:server_id/groups/:group_id",
    {
      schema: {
        tags,
        summary: "Unassign a group from an instance",
        description:
          "Members who held the instance only through the group lose their open sessions on it. 404 when the instance is unknown or the group is not assigned to it.",
        params: T.Object({ server_id: Id("Instance id."), group_id: Id("Group id.") }),
        response: { 204: NoContent, ...errors(404) },
      },
    },
    async (req, reply) => {
      await core.assignments.unassignGroup(req.params.server_id, req.params.group_id, callerOf(req).userId);
      return reply.code(204).send(null);
    },
  );
};
