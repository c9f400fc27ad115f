// The TRS broker API (port 9365): what desktop clients call. Every failure is HTTP 400 with
// {"error": {"code": N, "message", "data"}}, N from the reference's table, the message in
// the language the client prefers; invalid bodies are code 9, anything unforeseen code 1.

import type { FastifyReply } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config/schema.ts";
import {
  BrokerCode,
  type BrokerErrorCode,
  type BrokerErrorData,
  isBrokerError,
} from "../core/broker-error.ts";
import type { TokenValidator } from "../core/identity.ts";
import type { Core } from "../core/index.ts";
import type { Throttle } from "../core/throttle.ts";
import { type App, createApp, type HealthCheck } from "../http/app.ts";
import { logBrokerErrors, noteBrokerErrorDetail } from "../http/request-log.ts";
import { changePasswordRoute } from "./change-password.ts";
import { attachConsoleGateway } from "./console-gateway.ts";
import { consoleTicketRoute } from "./console-ticket.ts";
import { brokerErrorBody, preferredLang } from "./errors.ts";
import { getProjectsRoute } from "./get-projects.ts";
import { getVmRoute } from "./get-vm.ts";
import { refuseControlCharacters } from "./input-hygiene.ts";
import { registerPortal } from "./portal.ts";
import { requestVmRoute } from "./request-vm.ts";
import { throttleLogins } from "./throttle.ts";

export interface BrokerDeps {
  config: Config;
  core: Pick<Core, "broker" | "console">;
  logger: Logger;
  health: HealthCheck[];
  version: string;
  validator: TokenValidator;
  /** Rate limits on failed authentications (none: unlimited). */
  throttle?: Throttle;
}

export type BrokerRoutes = (app: App, deps: BrokerDeps) => void;

const ROUTES: BrokerRoutes[] = [
  requestVmRoute,
  getVmRoute,
  getProjectsRoute,
  changePasswordRoute,
  consoleTicketRoute,
];

export function sendBrokerError(
  reply: FastifyReply,
  code: BrokerErrorCode,
  data: BrokerErrorData = {},
  extra: Record<string, unknown> = {},
) {
  const lang = preferredLang(reply.request.headers["accept-language"]);
  return reply.code(400).send({ ...brokerErrorBody(code, data, lang), ...extra });
}

/**
 * The broker's Fastify setup with its API under /v1: the broker (:9365) and the portal server
 * (:8888, which serves the API the portal calls on its own origin) are both built on it.
 */
async function createBrokerBase(deps: BrokerDeps, trustedProxies: string[]): Promise<App> {
  const app = await createApp({
    title: "rs-server TRS broker API",
    description:
      "TRS broker API: desktop clients authenticate, ask for a desktop (request-vm), poll for it (get-vm), " +
      "list their TRS projects and change their password. Errors are HTTP 400 with a numbered code.",
    version: deps.version,
    logger: deps.logger,
    health: deps.health,
    trustedProxies,
    monitoringAllowedFrom: deps.config.monitoring.allowedFrom,
    handleError(err, reply) {
      if (!isBrokerError(err)) return false;
      // Logged once with the answer, who asked and from where (logBrokerErrors).
      noteBrokerErrorDetail(reply, err.detail);
      // Unknown user and unknown domain tell an unauthenticated caller who exists: unless the
      // operator wants the reference's codes, they are a wrong password like any other.
      const unknownAccount = err.code === BrokerCode.DomainNotFound || err.code === BrokerCode.UserNotFound;
      if (unknownAccount && !deps.config.broker.revealUnknownAccounts) {
        noteBrokerErrorDetail(reply, `code ${err.code} answered as 6${err.detail ? `: ${err.detail}` : ""}`);
        sendBrokerError(reply, BrokerCode.AuthenticationFailed);
      } else sendBrokerError(reply, err.code, err.data);
      return true;
    },
    shapeError(reply, status, message) {
      const lang = preferredLang(reply.request.headers["accept-language"]);
      // An unknown path stays a 404; a body the framework refused is the client's (9); anything
      // else is unforeseen (1), without its stack or message.
      if (status === 404) return brokerErrorBody(BrokerCode.Unexpected, {}, lang);
      reply.code(400);
      return status < 500
        ? brokerErrorBody(BrokerCode.InvalidRequest, { reason: message }, lang)
        : brokerErrorBody(BrokerCode.Unexpected, {}, lang);
    },
  });
  logBrokerErrors(app);
  await app.register(
    async (v1) => {
      refuseControlCharacters(v1 as App);
      if (deps.throttle) throttleLogins(v1 as App, deps.throttle);
      for (const route of ROUTES) route(v1 as App, deps);
    },
    { prefix: "/v1" },
  );
  // The web desktop's WebSocket: upgrades bypass Fastify's routing, so it hooks the server.
  const gateway = attachConsoleGateway(app.server, {
    config: deps.config,
    console: deps.core.console,
    logger: deps.logger,
  });
  // preClose: the server waits for upgraded sockets too, so they are ended before it closes.
  app.addHook("preClose", async () => gateway.close());
  return app;
}

/** The broker (:9365): the API, and the portal at /portal/ unless broker.portal is off. */
export async function createBrokerApp(deps: BrokerDeps): Promise<App> {
  const app = await createBrokerBase(deps, deps.config.broker.trustedProxies);
  if (deps.config.broker.portal) await registerPortal(app, deps, "/portal");
  return app;
}

/**
 * The portal server (config `portal`, :8888): the original platform's address of the user web
 * page, /trs/, with the broker API at /v1/ that the page calls on its own origin (the console
 * gateway's WebSocket included); / redirects to /trs/.
 */
export async function createPortalApp(deps: BrokerDeps): Promise<App> {
  const app = await createBrokerBase(deps, deps.config.portal.trustedProxies);
  await registerPortal(app, deps, "/trs");
  return app;
}
