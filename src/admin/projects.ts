// TRS projects (#2-#8) and the DELETE extension: pools, their settings and statistics.
import type { Static } from "@sinclair/typebox";
import type { PoolCreateInput, PoolUpdateInput, PoolView, ReserveStatus } from "../core/pools.ts";
import { callerOf, reachOf } from "../http/auth.ts";
import { badRequest } from "../http/errors.ts";
import { PAGING_PARAMS } from "../http/paging.ts";
import { parseBool, parseFilters } from "../http/query.ts";
import type { AdminRoutes } from "./app.ts";
import { rolloutJson } from "./drain.ts";
import { pageInMemory } from "./paged.ts";
import * as schemas from "./project-schemas.ts";
import { sessionPolicyJson } from "./session-policy.ts";
import { isoUtc } from "./wire.ts";

export function projectJson(view: PoolView) {
  const p = view.pool;
  return {
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    image_id: p.image_id,
    flavor_id: p.flavor_id,
    network_id: p.network_id,
    availability_zone: p.availability_zone,
    operation_mode: p.operation_mode,
    max_users_per_instance: p.max_users_per_instance,
    instance_init_script: p.instance_init_script,
    min_reserve_vm: p.min_reserve_vm,
    instance_name_pattern: p.instance_name_pattern,
    user_volume_enabled: p.user_volume_enabled,
    volume_size: p.volume_size,
    volume_type_id: p.volume_type_id,
    console_port: p.console_port,
    console_kind: p.console_kind,
    session_policy: sessionPolicyJson(view),
    reserve_schedule: (p.reserve_schedule ?? null) as Static<typeof schemas.ReserveScheduleBody>,
    ...(view.osProject !== undefined ? { os_project: view.osProject } : {}),
    ...(view.reserve ? { reserve: reserveJson(view.reserve) } : {}),
    draining: p.draining,
    drain_reason: p.drain_reason,
    ...(view.rollout ? { rollout: rolloutJson(view.rollout) } : {}),
  };
}

function reserveJson(r: ReserveStatus) {
  return {
    state: r.state,
    message: r.message,
    failures: r.failures,
    backoff_until: isoUtc(r.backoffUntil),
    target: r.target,
    next_change: r.nextChange ? { at: isoUtc(r.nextChange.at) as string, target: r.nextChange.target } : null,
    ready: r.ready,
    free: r.free,
    building: r.building,
    failed_builds: r.failedBuilds,
    last_failure: r.lastFailure,
    last_failure_at: isoUtc(r.lastFailureAt),
  };
}

const asTags = (tags: string[] | string | undefined) =>
  typeof tags === "string"
    ? tags
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== "")
    : tags;

const asMode = (mode: string | number | undefined) => (mode === undefined ? undefined : String(mode));

type Body = Record<string, unknown> & {
  enabled?: boolean | string;
  is_domain?: boolean | string;
  user_volume_enabled?: boolean | string;
  tags?: string[] | string;
  operation_mode?: string | number;
};

/** The body with the wire's lenient types made strict (booleans, tags, mode). */
function normalise<B extends Body>(body: B) {
  return {
    ...body,
    enabled: parseBool(body.enabled, "enabled"),
    is_domain: parseBool(body.is_domain, "is_domain"),
    user_volume_enabled: parseBool(body.user_volume_enabled, "user_volume_enabled"),
    tags: asTags(body.tags),
    operation_mode: asMode(body.operation_mode),
  };
}

/** Drops the keys whose value is undefined, so that "absent" and "not given" are one thing. */
function defined<O extends object>(o: O): O {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as O;
}

/** Cloud admins, and domain admins for the pools of their domain (docs/security.md#scopes). */
const POOL = { access: "pool" } as const;

export const projectRoutes: AdminRoutes = (app, { core, config }) => {
  app.post(
    "/projects",
    {
      schema: schemas.createProject,
      config: POOL,
    },
    async (req) => {
      const input = defined(normalise(req.body.project)) as PoolCreateInput;
      const reach = reachOf(req);
      // A domain admin's pool goes to its domain unless the body says otherwise (then refused).
      if (reach.kind === "domain") input.domain_id ??= reach.domainId;
      core.scopes.checkDomain(reach, input.domain_id);
      const pool = await core.pools.create(input);
      return { project: { id: pool.id } };
    },
  );

  app.put(
    "/projects/:project_id",
    {
      schema: schemas.updateProject,
      config: POOL,
    },
    async (req) => {
      const input = defined(normalise(req.body.project)) as PoolUpdateInput;
      if ("is_domain" in input) throw badRequest("is_domain cannot be changed");
      core.scopes.checkDomain(reachOf(req), input.domain_id);
      const pool = await core.pools.update(req.params.project_id, input);
      return { project: projectJson(await core.pools.view(pool)) };
    },
  );

  app.get(
    "/projects",
    {
      schema: schemas.listProjects,
      config: POOL,
    },
    async (req, reply) => {
      const { plain } = parseFilters(req.query, {
        modifiable: [],
        plain: [
          "name",
          "enabled",
          "domain",
          "user",
          "operation_mode",
          "with_os_object",
          "draining",
          ...PAGING_PARAMS,
        ],
      });
      const reach = reachOf(req);
      const views = await core.pools.list({
        domainId: reach.kind === "domain" ? reach.domainId : undefined,
        id: reach.kind === "project" ? reach.projectId : undefined,
        name: plain.name,
        enabled: parseBool(plain.enabled, "enabled"),
        domain: plain.domain,
        user: plain.user,
        operationMode: plain.operation_mode,
        draining: parseBool(plain.draining, "draining"),
        withOsObject: parseBool(plain.with_os_object, "with_os_object") ?? false,
      });
      const page = pageInMemory(
        req,
        reply,
        config.admin.maxPageSize,
        views,
        {
          sorts: {
            name: (v) => v.pool.name,
            id: (v) => v.pool.id,
            created_at: (v) => v.pool.created_at.getTime(),
          },
          idOf: (v) => v.pool.id,
        },
        plain,
      );
      return { projects: page.items.map(projectJson), ...(page.links ? { projects_links: page.links } : {}) };
    },
  );

  app.get(
    "/projects/actions/get-settings",
    {
      schema: schemas.getSettings,
      config: POOL,
    },
    async () => ({ project_settings: core.pools.settings() }),
  );

  app.get(
    "/projects/:project_id",
    {
      schema: schemas.showProject,
      config: POOL,
    },
    async (req) => {
      const { plain } = parseFilters(req.query, { modifiable: [], plain: ["with_os_object"] });
      const view = await core.pools.show(
        req.params.project_id,
        parseBool(plain.with_os_object, "with_os_object") ?? false,
      );
      return { project: projectJson(view) };
    },
  );

  app.get(
    "/projects/:project_id/statistics",
    {
      schema: schemas.projectStatistics,
      config: POOL,
    },
    async (req) => ({ statistics: await core.statistics.of(req.params.project_id) }),
  );

  app.post(
    "/projects/:project_id/actions/auto-allocate-users",
    {
      schema: schemas.autoAllocateUsers,
      config: { ...POOL, poolProjectAdmin: true },
    },
    async (req) => ({ task_id: await core.autoAllocate.start(req.params.project_id, callerOf(req).userId) }),
  );

  app.delete(
    "/projects/:project_id",
    {
      schema: schemas.deleteProject,
      config: POOL,
    },
    async (req, reply) => {
      const { plain } = parseFilters(req.query, { modifiable: [], plain: ["force"] });
      await core.pools.remove(req.params.project_id, {
        force: parseBool(plain.force, "force") ?? false,
        actor: callerOf(req).userId,
      });
      return reply.code(204).send(null);
    },
  );
};
