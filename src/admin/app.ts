// The RS server admin API (port 9364): Keystone-style error envelopes, token auth, and one
// route module per resource (listed in ./routes.ts).

import { Type } from "@sinclair/typebox";
import type { FastifyReply } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config/schema.ts";
import type { Core } from "../core/index.ts";
import type { Throttle } from "../core/throttle.ts";
import { type App, createApp, type HealthCheck } from "../http/app.ts";
import type { TokenAuth } from "../http/auth.ts";
import { type ApiError, envelope, forbidden, titleFor } from "../http/errors.ts";
import { logAdminChanges } from "../http/request-log.ts";
import { auditChanges } from "./audit.ts";
import { toApiError } from "./errors.ts";
import { adminRoutes } from "./routes.ts";
import { throttleInvalidTokens } from "./throttle.ts";
import { noNulBytes } from "./wire.ts";

export interface AdminDeps {
  config: Config;
  core: Core;
  auth: TokenAuth;
  logger: Logger;
  health: HealthCheck[];
  version: string;
  /** Rate limit on invalid tokens (none: unlimited). */
  throttle?: Throttle;
}

export type AdminRoutes = (app: App, deps: AdminDeps) => void | Promise<void>;

/**
 * Who may call a route: a cloud admin (the default); a cloud admin or a domain admin
 * (`config: { access: "pool" }`: the pool routes, which limit a domain admin to its domain's
 * pools, a `:project_id` of another domain being answered as unknown); any valid user token,
 * the core authorizing the caller itself (`"user"`); anyone (`"public"`, e.g. signing in).
 * docs/security.md#scopes has the table.
 */
export type Access = "admin" | "pool" | "user" | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
    /**
     * A "pool" route that changes something and that a pool's project admin may call too
     * (creating the pool's instances, auto-allocating its users); its other changes are refused
     * to one. Reads are always allowed to one, for its own pool.
     */
    poolProjectAdmin?: boolean;
    /** false: a "pool" route a domain admin may not call (POST /v1/servers). */
    domainAdmin?: boolean;
  }
}

const TOKEN_SECURITY = [{ token: [] }];
const NO_QUERY = Type.Object({}, { additionalProperties: false });

/**
 * What every /v1 route needs, applied once to the scope so that a new route cannot forget
 * it: authentication and the token's scope first, before the body is even read (a cloud admin
 * unless the route's `config.access` says otherwise), the token in its OpenAPI description,
 * and the NUL check (PostgreSQL text cannot hold NUL). test/e2e/auth-walk.test.ts walks the
 * OpenAPI document and proves every route refuses a missing and a member token, and what each
 * kind of admin token reaches.
 */
function guardScope(v1: App, auth: TokenAuth, core: Core): void {
  v1.addHook("onRoute", (route) => {
    if (route.config?.access !== "public" && route.schema) route.schema.security ??= TOKEN_SECURITY;
    // A route that documents no query parameter takes none: an unknown one is a 400 here as on
    // the routes with filters (docs/admin-api.md), not silently ignored.
    if (route.schema && !route.schema.querystring) route.schema.querystring = NO_QUERY;
  });
  v1.addHook("onRequest", async (req, reply) => {
    const access = req.routeOptions.config.access ?? "admin";
    if (access === "admin") await auth.requireAdmin(req, reply);
    else if (access === "pool") {
      await auth.requirePoolAdmin(req, reply);
      const { config } = req.routeOptions;
      const reach = req.adminReach ?? { kind: "none" };
      if (config.domainAdmin === false && reach.kind === "domain") throw forbidden(core.scopes.cloudOnly());
      if (req.method !== "GET" && req.method !== "HEAD")
        core.scopes.checkPoolChange(reach, config.poolProjectAdmin === true);
    } else if (access === "user") await auth.requireUser(req, reply);
  });
  v1.addHook("preValidation", noNulBytes);
  // After validation (the id is a checked string by then): a domain admin's pool must be of
  // its domain, else it is answered as an unknown pool.
  v1.addHook("preHandler", async (req) => {
    if (req.routeOptions.config.access !== "pool") return;
    const reach = req.adminReach;
    if (!reach || reach.kind === "cloud") return;
    const id = (req.params as { project_id?: string } | undefined)?.project_id;
    if (id !== undefined) core.scopes.checkPool(reach, await core.pools.find(id), id);
  });
}

function sendApiError(err: ApiError, reply: FastifyReply) {
  reply.code(err.status).send(envelope(err.status, err.title, err.message));
}

export async function createAdminApp(deps: AdminDeps): Promise<App> {
  const app = await createApp({
    title: "rs-server admin API",
    description: "RS server API: TRS projects (pools), instances, assignments, sessions, tasks.",
    version: deps.version,
    logger: deps.logger,
    health: deps.health,
    trustedProxies: deps.config.admin.trustedProxies,
    monitoringAllowedFrom: deps.config.monitoring.allowedFrom,
    handleError(err, reply) {
      const api = toApiError(err);
      if (!api) return false;
      sendApiError(api, reply);
      return true;
    },
    shapeError: (_reply, status, message) => envelope(status, titleFor(status), message),
  });
  if (deps.throttle) throttleInvalidTokens(app, deps.throttle);
  logAdminChanges(app);
  await app.register(
    async (v1) => {
      guardScope(v1 as App, deps.auth, deps.core);
      auditChanges(v1 as App, deps.core);
      for (const routes of adminRoutes) await routes(v1 as App, deps);
    },
    { prefix: "/v1" },
  );
  return app;
}
