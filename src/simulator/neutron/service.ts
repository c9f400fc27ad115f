// Neutron 2.0 mounted under /network: version discovery at the root (public, as in Neutron),
// everything else behind the token check and fault injection.
import type { FastifyInstance } from "fastify";
import { type SimContext, servicePath } from "../context.ts";
import { neutronError } from "./errors.ts";
import { floatingIpRoutes } from "./floating-ips.ts";
import { networkRoutes } from "./networks.ts";
import { portRoutes } from "./ports.ts";
import { quotaRoutes } from "./quotas.ts";
import { routerRoutes } from "./routers.ts";
import { neutronGuard } from "./scope.ts";
import { securityGroupRoutes } from "./security-groups.ts";
import { NeutronError, type NeutronState } from "./state.ts";

const RESOURCES = [
  ["network", "networks"],
  ["subnet", "subnets"],
  ["port", "ports"],
  ["floatingip", "floatingips"],
  ["router", "routers"],
  ["security_group", "security-groups"],
  ["security_group_rule", "security-group-rules"],
  ["quota", "quotas"],
] as const;

export async function registerNeutron(
  app: FastifyInstance,
  ctx: SimContext,
  state: NeutronState,
  prefix: string,
): Promise<void> {
  await app.register(
    async (neutron) => {
      const root = () => `${ctx.baseUrl()}${prefix}`;
      const isPublic = (url: string) => ["", "/v2.0"].includes(servicePath(url, prefix));
      neutron.addHook("onRequest", neutronGuard(ctx, isPublic));
      neutron.setErrorHandler((err, _req, reply) => {
        if (err instanceof NeutronError) return neutronError(reply, err.status, err.type, err.message);
        const status = (err as { statusCode?: number }).statusCode;
        if (status && status >= 400 && status < 500) {
          return neutronError(reply, status, "HTTPBadRequest", (err as Error).message);
        }
        return neutronError(
          reply,
          500,
          "HTTPInternalServerError",
          "Request Failed: internal server error while processing your request.",
        );
      });
      neutron.setNotFoundHandler((_req, reply) =>
        neutronError(reply, 404, "HTTPNotFound", "The resource could not be found."),
      );

      neutron.get("/", async () => ({
        versions: [{ id: "v2.0", status: "CURRENT", links: [{ href: `${root()}/v2.0/`, rel: "self" }] }],
      }));
      const resources = async () => ({
        resources: RESOURCES.map(([name, collection]) => ({
          name,
          collection,
          links: [{ href: `${root()}/v2.0/${collection}`, rel: "self" }],
        })),
      });
      neutron.get("/v2.0", resources);
      neutron.get("/v2.0/", resources);

      const env = { ctx, state, url: (path: string) => `${root()}/v2.0${path}` };
      networkRoutes(neutron, env);
      portRoutes(neutron, env);
      floatingIpRoutes(neutron, env);
      routerRoutes(neutron, env);
      securityGroupRoutes(neutron, env);
      quotaRoutes(neutron, env);
    },
    { prefix },
  );
}
