// Keystone's error envelope {"error": {"code", "title", "message"}} and the messages its
// exceptions render with insecure_debug off (security errors hide their details).
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
};

export class KsError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const UNAUTHORIZED = "The request you have made requires authentication.";

export const unauthorized = (message = UNAUTHORIZED) => new KsError(401, message);
export const forbidden = (action?: string) =>
  new KsError(
    403,
    action
      ? `You are not authorized to perform the requested action: ${action}.`
      : "You are not authorized to perform the requested action.",
  );
export const notFound = (kind: string, id: string) => new KsError(404, `Could not find ${kind}: ${id}.`);
export const badRequest = (message: string) => new KsError(400, message);
export const conflict = (type: string, details: string) =>
  new KsError(409, `Conflict occurred attempting to store ${type} - ${details}.`);

export function sendError(
  reply: FastifyReply,
  status: number,
  message: string,
  headers: Record<string, string> = {},
) {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply
    .code(status)
    .type("application/json")
    .send({ error: { code: status, title: TITLES[status] ?? "Error", message } });
}

/** Error handler for the identity routes: KsError as thrown, anything else in Keystone's shape. */
export function keystoneErrorHandler(wwwAuthenticate: () => string) {
  return (err: FastifyError | KsError, _req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof KsError) {
      const headers = { ...err.headers };
      if (err.status === 401) headers["WWW-Authenticate"] = wwwAuthenticate();
      return sendError(reply, err.status, err.message, headers);
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own 4xx: a body that is not JSON, an unsupported media type, a bad route.
      const jsonProblem = (err as FastifyError).code?.startsWith("FST_ERR_CTP");
      return sendError(
        reply,
        status,
        jsonProblem ? "Expecting to find valid JSON in request body." : err.message,
      );
    }
    reply.log.error(err);
    return sendError(reply, 500, "An unexpected error prevented the server from fulfilling your request.");
  };
}
