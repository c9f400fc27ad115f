// Admin-API authentication: X-Auth-Token validated against Keystone (cached), admin role
// required; some routes take any valid user token and authorize in the core.
import type { FastifyReply, FastifyRequest } from "fastify";
import { type Caller, hasAnyRole, type TokenValidator } from "../core/identity.ts";
import { forbidden, unauthorized } from "./errors.ts";

declare module "fastify" {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export interface TokenAuth {
  requireAdmin(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  requireUser(req: FastifyRequest, reply: FastifyReply): Promise<void>;
}

export function tokenAuth(validator: TokenValidator, adminRoles: readonly string[]): TokenAuth {
  async function identify(req: FastifyRequest): Promise<Caller> {
    const raw = req.headers["x-auth-token"];
    const token = Array.isArray(raw) ? raw[0] : raw;
    if (!token) throw unauthorized();
    const caller = await validator.validate(token);
    if (!caller) throw unauthorized("The token is invalid or has expired.");
    req.caller = caller;
    return caller;
  }
  return {
    async requireAdmin(req) {
      const caller = await identify(req);
      if (!hasAnyRole(caller, adminRoles)) throw forbidden("This action requires an admin role.");
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
