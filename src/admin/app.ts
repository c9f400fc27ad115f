// The RS server admin API (port 9364): Keystone-style error envelopes, token auth, and one
// route module per resource (listed in ./routes.ts).

import type { FastifyReply } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config/schema.ts";
import type { Core } from "../core/index.ts";
import type { Throttle } from "../core/throttle.ts";
import { type App, createApp, type HealthCheck } from "../http/app.ts";
import type { TokenAuth } from "../http/auth.ts";
import { type ApiError, envelope, titleFor } from "../http/errors.ts";
import { logAdminChanges } from "../http/request-log.ts";
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

/** Who may call a route: an admin (the default), or any valid user token (`config.access`). */
export type Access = "admin" | "user";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
}

const TOKEN_SECURITY = [{ token: [] }];

/**
 * What every /v1 route needs, applied once to the scope so that a new route cannot forget
 * it: the token in its OpenAPI description, the NUL check (PostgreSQL text cannot hold NUL)
 * and authentication — the admin role unless the route says `config: { access: "user" }`,
 * in which case the core authorizes the caller itself.
 */
function guardScope(v1: App, auth: TokenAuth): void {
  v1.addHook("onRoute", (route) => {
    if (route.schema) route.schema.security ??= TOKEN_SECURITY;
  });
  v1.addHook("preValidation", noNulBytes);
  v1.addHook("preHandler", (req, reply) =>
    req.routeOptions.config.access === "user" ? auth.requireUser(req, reply) : auth.requireAdmin(req, reply),
  );
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
      guardScope(v1 as App, deps.auth);
      for (const routes of adminRoutes) await routes(v1 as App, deps);
    },
    { prefix: "/v1" },
  );
  return app;
}
