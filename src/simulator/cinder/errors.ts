// Cinder's fault bodies ({"itemNotFound": {"code", "message"}}, overLimit with retryAfter) and
// keystonemiddleware's 401.
import type { FastifyReply } from "fastify";

const FAULT_NAMES: Record<number, string> = {
  400: "badRequest",
  401: "unauthorized",
  403: "forbidden",
  404: "itemNotFound",
  405: "badMethod",
  409: "conflictingRequest",
  413: "overLimit",
  415: "badMediaType",
  501: "notImplemented",
  503: "serviceUnavailable",
};

export function cinderError(
  reply: FastifyReply,
  status: number,
  message: string,
  retryAfter?: string,
): FastifyReply {
  const fault: Record<string, unknown> = { code: status, message };
  if (retryAfter !== undefined) {
    fault.retryAfter = retryAfter;
    reply.header("retry-after", retryAfter);
  }
  return reply.code(status).send({ [FAULT_NAMES[status] ?? "computeFault"]: fault });
}

export function unauthorized(reply: FastifyReply): FastifyReply {
  return reply.code(401).send({
    error: {
      code: 401,
      title: "Unauthorized",
      message: "The request you have made requires authentication.",
    },
  });
}
