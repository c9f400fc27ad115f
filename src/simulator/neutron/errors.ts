// Neutron's error body, {"NeutronError": {"type", "message", "detail"}}, and the 401 that
// keystonemiddleware answers before a request ever reaches neutron-server.
import type { FastifyReply } from "fastify";
import { unauthorized as keystoneUnauthorized } from "../context.ts";
import { NeutronError } from "./state.ts";

/** keystonemiddleware's 401, with the WWW-Authenticate header it sends in front of Neutron. */
export const unauthorized = (reply: FastifyReply): FastifyReply =>
  keystoneUnauthorized(reply.header("www-authenticate", "Keystone uri='identity'"));

export function neutronError(
  reply: FastifyReply,
  status: number,
  type: string,
  message: string,
): FastifyReply {
  return reply.code(status).send({ NeutronError: { type, message, detail: "" } });
}

/** Writes a thrown NeutronError; anything else is rethrown for Fastify's 500. */
export function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  if (e instanceof NeutronError) return neutronError(reply, e.status, e.type, e.message);
  throw e;
}

export const policyDenied = (action: string) =>
  new NeutronError(403, "PolicyNotAuthorized", `(rule:${action}) is disallowed by policy`);

export const badRequest = (resource: string, msg: string) =>
  new NeutronError(400, "BadRequest", `Bad ${resource} request: ${msg}.`);
