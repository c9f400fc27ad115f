// Rate limits on the broker's authentications (request-vm, get-projects, change-password):
// failures are counted per client address and per user name (src/core/throttle.ts); a caller
// over a limit is answered HTTP 429, code 28, with Retry-After, before Keystone is asked.
import type { FastifyRequest } from "fastify";
import { BrokerCode, type BrokerErrorCode, isBrokerError } from "../core/broker-error.ts";
import type { Limit, Throttle } from "../core/throttle.ts";
import type { App } from "../http/app.ts";
import { brokerErrorBody, preferredLang } from "./errors.ts";

const LOGIN_ROUTES = new Set(["/v1/request-vm", "/v1/get-projects", "/v1/change-password"]);

/** Answers that mean the credentials were wrong: unknown user or domain, wrong password or OTP, invalid token. */
const FAILED_LOGIN: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  BrokerCode.AuthenticationFailed,
  BrokerCode.DomainNotFound,
  BrokerCode.UserNotFound,
  BrokerCode.TokenInvalid,
]);

const limitsKey = Symbol("throttle limits");
type Throttled = FastifyRequest & { [limitsKey]?: Limit[] };

export function throttleLogins(v1: App, throttle: Throttle): void {
  v1.addHook("preHandler", async (req, reply) => {
    if (!LOGIN_ROUTES.has(req.routeOptions.url ?? "")) return;
    const body = (req.body ?? {}) as { user?: unknown; user_domain_name?: unknown };
    const limits = throttle.loginLimits(
      req.ip,
      typeof body.user === "string" ? body.user : undefined,
      typeof body.user_domain_name === "string" ? body.user_domain_name : "Default",
    );
    (req as Throttled)[limitsKey] = limits;
    const wait = await throttle.refusal(limits);
    if (wait === undefined) return;
    req.log.warn({ ip: req.ip, user: body.user, retryAfter: wait }, "broker authentication rate-limited");
    const lang = preferredLang(req.headers["accept-language"]);
    return reply
      .code(429)
      .header("Retry-After", String(wait))
      .send(brokerErrorBody(BrokerCode.TooManyAttempts, { retry_after: wait }, lang));
  });
  v1.addHook("onError", async (req, _reply, err: unknown) => {
    const limits = (req as Throttled)[limitsKey];
    if (limits && isBrokerError(err) && FAILED_LOGIN.has(err.code)) await throttle.failed(limits);
  });
}
