// TRS instances (#9-#12) and the DELETE extension.
import { Type as T } from "@sinclair/typebox";
import { INSTANCE_SORTS, type InstanceView } from "../core/instances.ts";
import { callerOf, reachOf } from "../http/auth.ts";
import { PAGING_PARAMS, pageLinks, parsePaging } from "../http/paging.ts";
import { parseBool, parseFilters } from "../http/query.ts";
import type { Filter } from "../shared/types.ts";
import type { AdminRoutes } from "./app.ts";
import { serverKeys as drainKeys } from "./drain-schemas.ts";
import { PageLinks, pagingQuery } from "./paged.ts";
import { errors, Id, IdList, isoUtc, NoContent, Timestamp } from "./wire.ts";

export const Server = T.Object({
  id: T.String({ description: "Instance id (the Nova server id)." }),
  name: T.String({ description: "Instance name." }),
  description: T.Union([T.String(), T.Null()]),
  project_id: T.String({ description: "TRS project id." }),
  status: T.String({ description: "Last known Nova status (BUILD, ACTIVE, ERROR, ...)." }),
  assigned: T.Boolean({ description: "At least one user or group is assigned." }),
  users: T.Array(T.String(), { description: "Assigned user ids." }),
  groups: T.Array(T.String(), { description: "Assigned group ids." }),
  created_at: Timestamp("Creation time."),
  fault: T.Union([T.String(), T.Null()], {
    description:
      "Extension: Nova's fault message while the instance is in ERROR (why its build failed), else null.",
  }),
  os_server: T.Optional(
    T.Union([T.Object({}, { additionalProperties: true }), T.Null()], {
      description: "The Nova server (with_os_object=true); null when Nova no longer has it.",
    }),
  ),
  ...drainKeys,
});

export const serverExample = {
  id: "2506940c-22f9-4b81-a865-9aa6e7d7cba3",
  name: "trs-01",
  description: null,
  project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f",
  status: "ACTIVE",
  assigned: true,
  users: ["d91232fa14ad4e41980ad82dc9ea3929"],
  groups: ["d57e3c6669bb46d3af7528c41ed1076f"],
  created_at: "2018-10-31T12:59:43",
  fault: null,
};

const ServerParams = T.Object({ server_id: Id("Instance id.") });

export function serverJson(view: InstanceView) {
  const i = view.instance;
  return {
    id: i.id,
    name: i.name,
    description: i.description,
    project_id: i.pool_id,
    status: i.status,
    assigned: i.users.length > 0 || i.groups.length > 0,
    users: i.users,
    groups: i.groups,
    created_at: isoUtc(i.created_at),
    fault: i.status === "ERROR" ? (i.fault ?? null) : null,
    draining: i.draining,
    image_id: i.image_id,
    ...(view.osServer !== undefined ? { os_server: view.osServer } : {}),
  };
}

/** `assigned` filters compare "true"/"false": booleans (docs/admin-api.md#wire-rules) are normalised first. */
function normaliseAssigned(filters: Filter[]): Filter[] {
  return filters.map((f) =>
    f.field === "assigned" ? { ...f, values: f.values.map((v) => String(parseBool(v, "assigned"))) } : f,
  );
}

export const serverRoutes: AdminRoutes = (app, { core, config }) => {
  app.post(
    "/servers",
    {
      // A cloud admin, or the admin of the pool's own project (the reference names the pool by
      // the token's scope); instances are cloud-wide otherwise. docs/security.md#scopes.
      config: { access: "pool", poolProjectAdmin: true, domainAdmin: false },
      schema: {
        tags: ["servers"],
        summary: "Create TRS instances",
        description:
          "Creates `count` instances of a TRS project from the project's template, in batched Nova requests of up to 100 (all or nothing: above 100 the whole count is checked against the Nova quota first, 400 when it does not fit, and a refused batch deletes the earlier ones). The project is `project_id` (extension) or the token's project scope. Without a name, names come from the project's pattern; a name with count > 1 gives name-1..name-N.",
        body: T.Object(
          {
            server: T.Object({
              name: T.Optional(T.String({ minLength: 1, maxLength: 245, description: "Instance name." })),
              count: T.Optional(
                T.Integer({
                  minimum: 1,
                  description:
                    "Number of instances (default 1). Any count the project's Nova quota admits; more than 100 go to Nova in requests of 100.",
                }),
              ),
              description: T.Optional(T.String({ maxLength: 255, description: "Instance description." })),
              users: T.Optional(IdList("User ids to assign.")),
              groups: T.Optional(IdList("Group ids to assign.")),
              project_id: T.Optional(Id("Extension: the TRS project (default: the token's project).")),
            }),
          },
          { examples: [{ server: { name: "test_vm", count: 1, description: "Test TRS vm" } }] },
        ),
        response: {
          200: T.Object(
            { servers: T.Array(T.Object({ id: T.String() })), reservation_id: T.String() },
            {
              example: {
                servers: [
                  { id: "2506940c-22f9-4b81-a865-9aa6e7d7cba3" },
                  { id: "0972fadc-6f8d-415a-b4cb-d4a0992b2370" },
                ],
                reservation_id: "r-vd4o1bvy",
              },
            },
          ),
          ...errors(400, 404, 409),
        },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const body = req.body.server;
      const projectId = body.project_id ?? caller.projectId;
      const reach = reachOf(req);
      if (reach.kind === "project" && projectId !== undefined)
        core.scopes.checkPool(reach, await core.pools.find(projectId), projectId);
      const created = await core.instances.create({ ...body, projectId }, caller.userId);
      return { servers: created.ids.map((id) => ({ id })), reservation_id: created.reservationId };
    },
  );

  app.put(
    "/servers/:server_id",
    {
      schema: {
        tags: ["servers"],
        summary: "Set an instance's users and groups",
        description:
          "Replaces the assigned users and/or groups (a list given replaces that set; one left out is kept).",
        params: ServerParams,
        body: T.Object(
          {
            server: T.Object({
              users: T.Optional(IdList("User ids.")),
              groups: T.Optional(IdList("Group ids.")),
            }),
          },
          {
            examples: [
              {
                server: {
                  users: ["d91232fa14ad4e41980ad82dc9ea3929"],
                  groups: ["d57e3c6669bb46d3af7528c41ed1076f"],
                },
              },
            ],
          },
        ),
        response: {
          200: T.Object({ server: Server }, { example: { server: serverExample } }),
          ...errors(400, 404, 409),
        },
      },
    },
    async (req) => {
      const instance = await core.instances.update(
        req.params.server_id,
        req.body.server,
        callerOf(req).userId,
      );
      return { server: serverJson({ instance }) };
    },
  );

  app.get(
    "/servers",
    {
      schema: {
        tags: ["servers"],
        summary: "List TRS instances",
        description:
          "Served from rs-server's records. Filters: project_id and assigned (with modifiers, e.g. project_id__in=a,b or assigned__noteq=true), user, group; with_os_object adds os_server (one Nova listing for the whole list). Pages: limit, marker, sort_key, sort_dir; a next page is in the Link header (and servers_links).",
        querystring: T.Object(
          {
            project_id: T.Optional(T.String({ description: "TRS project id (modifiers allowed)." })),
            assigned: T.Optional(T.String({ description: "true/false (modifiers allowed)." })),
            user: T.Optional(T.String({ description: "Assigned user id." })),
            group: T.Optional(T.String({ description: "Assigned group id." })),
            with_os_object: T.Optional(T.String({ description: "Add os_server, the Nova server." })),
            ...pagingQuery("instances", "id", INSTANCE_SORTS, "asc"),
            draining: T.Optional(
              T.String({ description: "Extension: only instances (not) draining (true/false)." }),
            ),
          },
          { additionalProperties: true },
        ),
        response: {
          200: T.Object(
            { servers: T.Array(Server), servers_links: PageLinks },
            { example: { servers: [serverExample] } },
          ),
          ...errors(400),
        },
      },
    },
    async (req, reply) => {
      const { filters, plain } = parseFilters(req.query, {
        modifiable: ["project_id", "assigned"],
        plain: ["user", "group", "with_os_object", "draining", ...PAGING_PARAMS],
      });
      const paging = parsePaging(plain, {
        sortKeys: INSTANCE_SORTS,
        defaultDir: "asc",
        maxPage: config.admin.maxPageSize,
      });
      const paged = paging.limit !== undefined || paging.marker !== undefined;
      const views = await core.instances.list({
        filters: normaliseAssigned(filters),
        draining: parseBool(plain.draining, "draining"),
        user: plain.user,
        group: plain.group,
        withOsObject: parseBool(plain.with_os_object, "with_os_object") ?? false,
        page: paged
          ? { ...paging, limit: paging.limit === undefined ? undefined : paging.limit + 1 }
          : undefined,
      });
      const more = paging.limit !== undefined && views.length > paging.limit;
      const page = more ? views.slice(0, paging.limit) : views;
      const links = pageLinks(req, reply, paging, more ? page[page.length - 1].instance.id : undefined);
      return { servers: page.map(serverJson), ...(links ? { servers_links: links } : {}) };
    },
  );

  app.get(
    "/servers/:server_id",
    {
      schema: {
        tags: ["servers"],
        summary: "Show a TRS instance",
        description:
          "with_os_object=true adds os_server, the Nova server (and refreshes the recorded status).",
        params: ServerParams,
        querystring: T.Object(
          { with_os_object: T.Optional(T.String({ description: "Add os_server, the Nova server." })) },
          { additionalProperties: true },
        ),
        response: {
          200: T.Object({ server: Server }, { example: { server: serverExample } }),
          ...errors(400, 404),
        },
      },
    },
    async (req) => {
      const { plain } = parseFilters(req.query, { modifiable: [], plain: ["with_os_object"] });
      const view = await core.instances.show(
        req.params.server_id,
        parseBool(plain.with_os_object, "with_os_object") ?? false,
      );
      return { server: serverJson(view) };
    },
  );

  app.delete(
    "/servers/:server_id",
    {
      schema: {
        tags: ["servers"],
        summary: "Delete a TRS instance (extension)",
        description:
          "Deletes the server in Nova, ends its assignments (history kept) and closes its open sessions.",
        params: ServerParams,
        response: { 204: NoContent, ...errors(404) },
      },
    },
    async (req, reply) => {
      await core.instances.remove(req.params.server_id, callerOf(req).userId);
      return reply.code(204).send(null);
    },
  );
};
