// What the two APIs log beyond Fastify's own request lines, as hooks at the HTTP layer (the
// routes and the core stay as they are): health checks and metrics scrapes below info (a
// monitor polling every few seconds would drown everything else), each broker error once with
// who asked, from where, and its code, and each admin change once with who made it.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "./app.ts";

/** Routes a monitor polls: their request lines are logged only at warn and above (none, normally). */
export const POLLED_ROUTES = new Set(["/health", "/metrics"]);

/** Request lines of polled routes below info; must be added before those routes are. */
export function quietPolledRoutes(app: App): void {
  app.addHook("onRoute", (route) => {
    if (POLLED_ROUTES.has(route.url) && !route.logLevel) route.logLevel = "warn";
  });
}

const BROKER_ERROR = /^\{"error":\{"code":(\d+)/;

/** The user and domain a broker request names (in its body) or is authenticated as (its token). */
function brokerUser(req: FastifyRequest): { user?: string; domain?: string } {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  return {
    user: str(body.user) ?? req.caller?.userName,
    domain: str(body.user_domain_name) ?? (body.user ? "Default" : req.caller?.domainId),
  };
}

const details = new WeakMap<FastifyReply, string>();

/** What the operator should read about a broker error the user only gets a code for. */
export function noteBrokerErrorDetail(reply: FastifyReply, detail: string | undefined): void {
  if (detail) details.set(reply, detail);
}

/** Every broker error answer (HTTP 400, or 429, with a numbered code), logged once. */
export function logBrokerErrors(app: App): void {
  app.addHook("onSend", async (req, reply: FastifyReply, payload) => {
    // 400, or 429 when a rate limit answers with its own code.
    if ((reply.statusCode !== 400 && reply.statusCode !== 429) || typeof payload !== "string") return payload;
    const code = BROKER_ERROR.exec(payload)?.[1];
    if (!code) return payload;
    const { user, domain } = brokerUser(req);
    const level = code === "1" || code === "25" ? "error" : "info";
    req.log[level](
      {
        code: Number(code),
        user,
        domain,
        client: req.ip,
        route: req.routeOptions.url,
        detail: details.get(reply),
      },
      "broker error",
    );
    return payload;
  });
}

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Every admin request that changed something (a write answered 2xx), logged once with its author. */
export function logAdminChanges(app: App): void {
  app.addHook("onResponse", async (req, reply) => {
    if (!CHANGES.has(req.method) || reply.statusCode >= 300 || !req.caller) return;
    req.log.info(
      {
        user_id: req.caller.userId,
        user_name: req.caller.userName,
        domain_id: req.caller.domainId,
        method: req.method,
        route: req.routeOptions.url,
        url: req.url,
        status: reply.statusCode,
        client: req.ip,
      },
      "admin change",
    );
  });
}
