// Clients of the reference send `Content-Type: application/json` on requests without a body
// (curl -X DELETE -H "Content-Type: application/json" ...). Fastify's JSON parser refuses an
// empty body with that type; OpenStack's services (Keystone's json_body hook, Nova's and
// Cinder's wsgi) read it as no body at all. These parsers do the same and keep Fastify's
// own parser (with its prototype-poisoning checks) for every non-empty body.
import type { FastifyInstance } from "fastify";

/**
 * Replaces the JSON parser of `app` (before any route is registered) with one that hands
 * `empty` to the route for a zero-length body: `{}` where every route's body is optional or
 * absent (the APIs), `undefined` where the route itself decides what "no body" means (the
 * simulator, like OpenStack).
 */
export function acceptEmptyJson(app: FastifyInstance, empty: () => unknown): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    if (body.length === 0) return done(null, empty());
    parse(req, body as string, done);
  });
}
