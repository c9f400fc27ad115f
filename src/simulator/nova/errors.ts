// Nova's fault bodies: {"itemNotFound": {"code": 404, "message": ...}} and friends, named by
// status as nova.api.openstack.wsgi.Fault names them; other statuses are computeFault.
import type { FastifyReply } from "fastify";
import { FAULT_NAMES, faultBody } from "../wsgi-fault.ts";

const NOVA_FAULT_NAMES = { ...FAULT_NAMES, 429: "overLimit" };

export class NovaFault extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function novaError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).send(faultBody(status, { code: status, message }, NOVA_FAULT_NAMES));
}

export const badRequest = (message: string) => new NovaFault(400, message);
export const notFound = (message: string) => new NovaFault(404, message);
export const conflict = (message: string) => new NovaFault(409, message);
export const serverNotFound = (id: string) => notFound(`Instance ${id} could not be found.`);

export const policyDenied = (rule: string) =>
  new NovaFault(403, `Policy doesn't allow ${rule} to be performed.`);

/** nova.api.openstack.common.raise_http_conflict_for_instance_invalid_state */
export const invalidState = (action: string, serverId: string, vmState: string) =>
  conflict(`Cannot '${action}' instance ${serverId} while it is in vm_state ${vmState}`);

/** Nova's jsonschema validation message. */
export const invalidInput = (field: string, value: unknown, reason: string) =>
  badRequest(
    `Invalid input for field/attribute ${field}. Value: ${typeof value === "string" ? value : JSON.stringify(value)}. ${reason}`,
  );
