// Cinder's fault bodies ({"itemNotFound": {"code", "message"}}, overLimit with retryAfter).
import type { FastifyReply } from "fastify";
import { faultBody } from "../wsgi-fault.ts";

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
  return reply.code(status).send(faultBody(status, fault));
}
