// Who is calling Neutron: the validated token, its project and whether it is an admin. Set by
// the service's onRequest hook, read by every route.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { SimContext, SimToken } from "../context.ts";
import { injectedFailure, isAdmin, requestToken } from "../context.ts";
import { neutronError, unauthorized } from "./errors.ts";
import { NeutronError, type NeutronState } from "./state.ts";

export interface Caller {
  token: SimToken;
  projectId: string;
  admin: boolean;
}

const callers = new WeakMap<FastifyRequest, Caller>();

export function caller(req: FastifyRequest): Caller {
  const c = callers.get(req);
  if (!c) throw new Error("Neutron route reached without authentication");
  return c;
}

/** Fault injection first (latency, 503), then keystonemiddleware's token check. */
export function neutronGuard(ctx: SimContext, isPublic: (url: string) => boolean) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (await injectedFailure(ctx.faults)) {
      return neutronError(reply, 503, "ServiceUnavailable", "The server is currently unavailable.");
    }
    if (isPublic(req.url)) return;
    const token = requestToken(ctx, req);
    if (!token) return unauthorized(reply);
    callers.set(req, { token, projectId: token.projectId ?? "", admin: isAdmin(token) });
  };
}

type Body = Record<string, unknown>;

/** The resource object of a request body ({"network": {...}}), or Neutron's 400. */
export function resourceBody(body: unknown, key: string): Body {
  const b = body as Record<string, unknown> | undefined;
  const inner = b?.[key];
  if (!inner || typeof inner !== "object" || Array.isArray(inner)) {
    throw new NeutronError(400, "HTTPBadRequest", `Unable to find '${key}' in request body`);
  }
  return inner as Body;
}

export interface NeutronEnv {
  ctx: SimContext;
  state: NeutronState;
  /** Absolute URL of a path under /v2.0, for links. */
  url(path: string): string;
}

export type Query = Record<string, string | string[] | undefined>;

export function notFound(kind: string, id: string): NeutronError {
  const messages: Record<string, string> = {
    NetworkNotFound: `Network ${id} could not be found.`,
    SubnetNotFound: `Subnet ${id} could not be found.`,
    PortNotFound: `Port ${id} could not be found.`,
    FloatingIPNotFound: `Floating IP ${id} could not be found`,
    RouterNotFound: `Router ${id} could not be found`,
    SecurityGroupNotFound: `Security group ${id} does not exist`,
    SecurityGroupRuleNotFound: `Security group rule ${id} does not exist`,
  };
  return new NeutronError(404, kind, messages[kind] ?? `${id} could not be found.`);
}

/** Non-admins see only their project's records; others look absent (404), as in Neutron. */
export function ownedBy(c: Caller, r: { project_id: string }): boolean {
  return c.admin || r.project_id === c.projectId;
}

/** The record `id` of `records` if the caller may see it, else Neutron's 404 `kind`. */
export function findOwned<T extends { project_id: string }>(
  records: Map<string, T>,
  req: FastifyRequest,
  kind: string,
  id: string,
): T {
  const r = records.get(id);
  if (!r || !ownedBy(caller(req), r)) throw notFound(kind, id);
  return r;
}

/** The project a new record belongs to: the caller's, or another one only for admins. */
export function targetProject(c: Caller, body: Record<string, unknown>): string {
  const wanted = (body.project_id ?? body.tenant_id) as string | undefined;
  if (wanted && wanted !== c.projectId && !c.admin) {
    throw new NeutronError(
      403,
      "PolicyNotAuthorized",
      "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
    );
  }
  return wanted ?? c.projectId;
}
