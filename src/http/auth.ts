// Admin-API authentication: X-Auth-Token validated against Keystone, then authorized by the
// token's scope (core/scope.ts): a cloud admin for most routes, a cloud or domain admin for
// the pool routes, any valid token where the core authorizes the caller itself. Reads may use
// the token cache (auth.tokenCacheSeconds); a change (any method but GET/HEAD/OPTIONS) asks
// Keystone again, so a revoked token changes nothing.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Caller, TokenValidator } from "../core/identity.ts";
import type { AdminReach, AdminScopes } from "../core/scope.ts";
import { forbidden, unauthorized } from "./errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    caller?: Caller;
    /** What the caller may administer, set by requireAdmin and requirePoolAdmin. */
    adminReach?: AdminReach;
  }
}

export interface TokenAuth {
  /** A cloud admin. */
  requireAdmin(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** A cloud admin or a domain admin (the route then limits it to its domain's pools). */
  requirePoolAdmin(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  requireUser(req: FastifyRequest, reply: FastifyReply): Promise<void>;
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

export function tokenAuth(
  validator: TokenValidator,
  scopes: Pick<AdminScopes, "reachOf" | "cloudOnly">,
): TokenAuth {
  async function identify(req: FastifyRequest): Promise<Caller> {
    const raw = req.headers["x-auth-token"];
    const token = Array.isArray(raw) ? raw[0] : raw;
    if (!token) throw unauthorized();
    const caller = await validator.validate(token, { fresh: !READS.has(req.method) });
    if (!caller) throw unauthorized("The token is invalid or has expired.");
    req.caller = caller;
    return caller;
  }
  async function reach(req: FastifyRequest): Promise<AdminReach> {
    const r = await scopes.reachOf(await identify(req));
    req.adminReach = r;
    return r;
  }
  return {
    async requireAdmin(req) {
      const r = await reach(req);
      if (r.kind !== "cloud") throw forbidden(scopes.cloudOnly());
    },
    async requirePoolAdmin(req) {
      if ((await reach(req)).kind === "none") throw forbidden("This action requires an admin role.");
    },
    async requireUser(req) {
      await identify(req);
    },
  };
}

export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw unauthorized();
  return req.caller;
}

/** The reach the guard found (routes behind requireAdmin or requirePoolAdmin). */
export function reachOf(req: FastifyRequest): AdminReach {
  return req.adminReach ?? { kind: "none" };
}
