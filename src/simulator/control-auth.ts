// The simulator's own controls (/sim/faults, /sim/stats) change or reveal the whole cloud's
// behaviour: like Keystone's admin APIs, they take a token with the admin role.
import type { FastifyInstance } from "fastify";
import type { SimContext } from "./context.ts";

export function registerControlAuth(app: FastifyInstance, ctx: SimContext): void {
  app.addHook("onRequest", async (req, reply) => {
    if (!req.url.startsWith("/sim/")) return;
    const raw = req.headers["x-auth-token"];
    const token = ctx.identity.validate(typeof raw === "string" ? raw : "");
    if (!token)
      return reply.code(401).send({
        error: {
          code: 401,
          title: "Unauthorized",
          message: "The request you have made requires authentication.",
        },
      });
    if (!token.roles.includes("admin"))
      return reply.code(403).send({
        error: { code: 403, title: "Forbidden", message: "The simulator's controls require the admin role." },
      });
  });
}
