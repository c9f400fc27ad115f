// Who is calling a broker route that takes the token request-vm answered (get-vm, the console
// ticket): `Authorization: Bearer <token>` or `X-Auth-Token`, validated with Keystone. No or a
// refused token is code 24; Keystone out of reach is code 21.
import type { FastifyRequest } from "fastify";
import { BrokerCode, BrokerError, orKeystoneUnavailable } from "../core/broker-error.ts";
import type { Caller, TokenValidator } from "../core/identity.ts";

export function tokenOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authz = headers.authorization;
  const bearer = typeof authz === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(authz)?.[1] : undefined;
  if (bearer) return bearer;
  const x = headers["x-auth-token"];
  return typeof x === "string" && x ? x : undefined;
}

/** The request's caller, also kept on the request for the log of a broker error (http/request-log.ts). */
export async function brokerCaller(req: FastifyRequest, validator: TokenValidator): Promise<Caller> {
  const token = tokenOf(req.headers);
  if (!token) throw new BrokerError(BrokerCode.TokenInvalid, {}, "no token in Authorization or X-Auth-Token");
  const caller = await orKeystoneUnavailable(() => validator.validate(token));
  if (!caller) throw new BrokerError(BrokerCode.TokenInvalid, {}, "Keystone does not accept the token");
  req.caller = caller;
  return caller;
}
