// The Fastify pieces both APIs share: request ids (X-Request-Id), trailing-slash tolerance,
// schema validation without silent coercion, the OpenAPI document and its docs page, the
// health endpoint, and error handling that never leaks a stack trace.
import { randomUUID } from "node:crypto";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from "fastify";
import type { Logger } from "pino";
import { type AddressMatcher, addressMatcher } from "./addresses.ts";
import { acceptEmptyJson } from "./empty-json.ts";
import { quietPolledRoutes } from "./request-log.ts";

export type App = FastifyInstance<any, any, any, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface HealthCheck {
  name: string;
  check: () => Promise<{ ok: boolean; detail?: string }>;
}

/** Body for an error: validation (400), not found (404), framework errors, or a bug (500). */
export type ErrorShaper = (reply: FastifyReply, status: number, message: string, err?: unknown) => unknown;

export interface AppOptions {
  title: string;
  description: string;
  version: string;
  logger: Logger;
  health: HealthCheck[];
  /** Handles errors of the API's own closed set; returns false to fall through. */
  handleError: (err: unknown, reply: FastifyReply) => boolean;
  shapeError: ErrorShaper;
  bodyLimit?: number;
  /** Proxies whose X-Forwarded-For is believed for `req.ip` (none: the peer is the client). */
  trustedProxies?: string[];
  /** Addresses that see /health's details (and /metrics, where served); default loopback only. */
  monitoringAllowedFrom?: string[];
}

/** Whether the request's client may see monitoring details (set on every app by createApp). */
declare module "fastify" {
  interface FastifyInstance {
    monitoringAllowed: AddressMatcher;
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function createApp(options: AppOptions): Promise<App> {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustedProxies?.length ? options.trustedProxies : false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 500 },
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      // http-: a broker request (request-vm) is req-<uuid>; a log line never mixes them up.
      return typeof given === "string" && REQUEST_ID.test(given) ? given : `http-${randomUUID()}`;
    },
    // Bad URLs and over-long ids fail in the router, before any handler: same envelope there.
    frameworkErrors: (err, _req, res) => {
      const reply = res as unknown as FastifyReply;
      reply.code(400).send(options.shapeError(reply, 400, err.message, err));
    },
    ajv: {
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: true,
        allErrors: false,
        keywords: ["example"],
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // A bodiless request, with a JSON content type or none, is `{}`: ignored by routes without
  // a body, the default of routes whose body is optional, a 400 naming what is missing elsewhere.
  acceptEmptyJson(app as unknown as FastifyInstance, () => ({}));
  app.addHook("preValidation", async (req) => {
    if (req.body === undefined && req.method !== "GET" && req.method !== "HEAD") req.body = {};
  });

  app.addHook("onRequest", async (req, reply) => {
    reply.header("X-Request-Id", req.id);
  });
  // API answers are per caller and may hold tokens or addresses: no cache keeps them, and no
  // browser guesses another type for them. Files that may be cached say so themselves.
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("X-Content-Type-Options", "nosniff");
    if (!reply.hasHeader("cache-control")) reply.header("Cache-Control", "no-store");
    return payload;
  });
  app.decorate(
    "monitoringAllowed",
    addressMatcher(options.monitoringAllowedFrom ?? ["127.0.0.0/8", "::1/128"]),
  );
  quietPolledRoutes(app as unknown as App);

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: options.title, description: options.description, version: options.version },
      components: {
        securitySchemes: { token: { type: "apiKey", in: "header", name: "X-Auth-Token" } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true });

  app.get(
    "/health",
    {
      schema: {
        tags: ["health"],
        summary: "Database and cloud reachability",
        // No parameters: an unknown one is a 400 like anywhere else in the API.
        querystring: { type: "object", properties: {}, additionalProperties: false },
      },
    },
    async (req, reply) => {
      // Anyone may ask whether the service is up; what is down, and why, only the operator's network.
      if (!app.monitoringAllowed(req.ip)) {
        const ok = (
          await Promise.all(options.health.map((h) => h.check().catch(() => ({ ok: false }))))
        ).every((r) => r.ok);
        reply.code(ok ? 200 : 503);
        return { status: ok ? "ok" : "degraded" };
      }
      const results = await Promise.all(
        options.health.map(async (h) => {
          const started = performance.now();
          try {
            const r = await h.check();
            return [h.name, { ...r, latency_ms: Math.round(performance.now() - started) }] as const;
          } catch (err) {
            return [h.name, { ok: false, detail: (err as Error).message }] as const;
          }
        }),
      );
      const ok = results.every(([, r]) => r.ok);
      reply.code(ok ? 200 : 503);
      return {
        status: ok ? "ok" : "degraded",
        version: options.version,
        checks: Object.fromEntries(results),
      };
    },
  );

  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send(options.shapeError(reply, 404, `The resource could not be found: ${req.method} ${req.url}`));
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (options.handleError(err, reply)) return;
    if (err.validation) {
      const where = err.validationContext ?? "request";
      const message = `Invalid input for ${where}: ${err.message}`;
      reply.code(400).send(options.shapeError(reply, 400, message, err));
      return;
    }
    const status = err.statusCode;
    if (status && status >= 400 && status < 500) {
      reply.code(status).send(options.shapeError(reply, status, err.message, err));
      return;
    }
    req.log.error({ err }, "unhandled error");
    reply
      .code(500)
      .send(
        options.shapeError(
          reply,
          500,
          "An unexpected error prevented the server from fulfilling your request.",
          err,
        ),
      );
  });

  return app as unknown as App;
}
