// Access to a pool (extension): who holds the configured access role (pools.accessRole) on
// the pool's Keystone project, and granting or revoking it for a user or a group, so that
// giving a user a desktop needs no `openstack role add`. A cloud admin, or the domain admin
// of the pool's domain (then for users and groups of that domain only).
import { Type as T } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { callerOf, reachOf } from "../http/auth.ts";
import type { AdminRoutes } from "./app.ts";
import { errors, Id, NoContent } from "./wire.ts";

const Holder = T.Object({ id: T.String(), name: T.String(), domain_id: T.String() });
const tags = ["access"];
const ProjectParams = T.Object({ project_id: Id("TRS project id.") });
const UserParams = T.Object({ project_id: Id("TRS project id."), user_id: Id("User id.") });
const GroupParams = T.Object({ project_id: Id("TRS project id."), group_id: Id("Group id.") });

/** A domain admin's domain (its grants stay within it); undefined for a cloud admin. */
const domainOf = (req: FastifyRequest) => {
  const reach = reachOf(req);
  return reach.kind === "domain" ? reach.domainId : undefined;
};

export const poolAccessRoutes: AdminRoutes = (app, { core, config }) => {
  const role = config.pools.accessRole;
  const access = core.poolAccess;

  app.get(
    "/projects/:project_id/access",
    {
      config: { access: "pool" },
      schema: {
        tags,
        summary: "Who may use a TRS project through the broker (extension)",
        description: `Users and groups holding the access role (${role}, pools.accessRole) on the project directly, sorted by name. Members of a listed group have access through it. 404 for an unknown project.`,
        params: ProjectParams,
        response: {
          200: T.Object(
            { users: T.Array(Holder), groups: T.Array(Holder) },
            {
              example: {
                users: [{ id: "d91232fa14ad4e41980ad82dc9ea3929", name: "alice", domain_id: "default" }],
                groups: [{ id: "2506940c22f94b81a865f9aa6e7d7cba", name: "staff", domain_id: "default" }],
              },
            },
          ),
          ...errors(404),
        },
      },
    },
    async (req) => access.holders(req.params.project_id),
  );

  const change = (kind: "users" | "groups", grant: boolean) => ({
    config: { access: "pool" as const },
    schema: {
      tags,
      summary: `${grant ? "Grant" : "Revoke"} a ${kind === "users" ? "user's" : "group's"} access to a TRS project (extension)`,
      description: grant
        ? `Grants the access role (${role}) on the project's Keystone project${kind === "groups" ? " to the group (its members get access)" : ""}; granting twice changes nothing. 404 for an unknown project or ${kind === "users" ? "user" : "group"}.`
        : `Revokes the access role (${role}) on the project's Keystone project; revoking what is not granted changes nothing. A role held another way (another role, a group) still admits the user. 404 for an unknown project or ${kind === "users" ? "user" : "group"}.`,
      params: kind === "users" ? UserParams : GroupParams,
      response: { 204: NoContent, ...errors(404) },
    },
  });

  for (const grant of [true, false]) {
    const method = grant ? "PUT" : "DELETE";
    app.route({
      method,
      url: "/projects/:project_id/access/users/:user_id",
      ...change("users", grant),
      handler: async (req, reply) => {
        const { project_id, user_id } = req.params as { project_id: string; user_id: string };
        const by = callerOf(req).userId;
        const within = domainOf(req);
        if (grant) await access.grant(project_id, { userId: user_id }, by, within);
        else await access.revoke(project_id, { userId: user_id }, by, within);
        return reply.code(204).send(null);
      },
    });
    app.route({
      method,
      url: "/projects/:project_id/access/groups/:group_id",
      ...change("groups", grant),
      handler: async (req, reply) => {
        const { project_id, group_id } = req.params as { project_id: string; group_id: string };
        const by = callerOf(req).userId;
        const within = domainOf(req);
        if (grant) await access.grant(project_id, { groupId: group_id }, by, within);
        else await access.revoke(project_id, { groupId: group_id }, by, within);
        return reply.code(204).send(null);
      },
    });
  }
};
