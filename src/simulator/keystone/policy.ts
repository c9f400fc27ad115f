// Who may call what: Keystone's default policy reduced to what matters here. The admin role
// (on the token's scope) may do anything; other users may read themselves.
import type { FastifyRequest } from "fastify";
import type { Keystone } from "./core.ts";
import { forbidden, unauthorized } from "./errors.ts";
import { resolveToken, type TokenContext } from "./tokens.ts";

export function callerToken(ks: Keystone, req: FastifyRequest): TokenContext {
  const raw = req.headers["x-auth-token"];
  const ctx = typeof raw === "string" ? resolveToken(ks, raw) : undefined;
  if (!ctx) throw unauthorized();
  return ctx;
}

export function isAdmin(ctx: TokenContext) {
  return ctx.roles.some((r) => r.name === "admin");
}

/** Answers 403 naming the policy rule, as Keystone does, unless the caller is admin or `allowed`. */
export function authorize(
  ks: Keystone,
  req: FastifyRequest,
  action: string,
  allowed?: (ctx: TokenContext) => boolean,
): TokenContext {
  const ctx = callerToken(ks, req);
  if (isAdmin(ctx) || allowed?.(ctx)) return ctx;
  throw forbidden(`identity:${action}`);
}
