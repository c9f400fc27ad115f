// Rate limit on invalid tokens at the admin API: each token Keystone refuses costs a validation
// call, so an address that presented too many in a window (src/core/throttle.ts) is answered
// 429 with Retry-After, before its token is looked at, until the window ends.
import type { Throttle } from "../core/throttle.ts";
import type { App } from "../http/app.ts";
import { envelope } from "../http/errors.ts";

export function throttleInvalidTokens(app: App, throttle: Throttle): void {
  app.addHook("onRequest", async (req, reply) => {
    if (!req.headers["x-auth-token"]) return;
    const wait = await throttle.refusal(throttle.tokenLimits(req.ip));
    if (wait === undefined) return;
    req.log.warn({ ip: req.ip, retryAfter: wait }, "admin API: too many invalid tokens from this address");
    return reply
      .code(429)
      .header("Retry-After", String(wait))
      .send(
        envelope(
          429,
          "Too Many Requests",
          `Too many invalid tokens from this address; try again in ${wait} seconds.`,
        ),
      );
  });
  // Counted before the answer leaves, so that the caller's next request already sees it.
  app.addHook("onSend", async (req, reply, payload) => {
    if (reply.statusCode === 401 && req.headers["x-auth-token"])
      await throttle.failed(throttle.tokenLimits(req.ip));
    return payload;
  });
}
