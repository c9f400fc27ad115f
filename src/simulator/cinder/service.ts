// Cinder v3 mounted under /volume, URLs carrying /v3/{project_id}: version discovery (300 at
// the root, as cinder-api answers), microversions, and the routes of volumes.ts/quotas.ts.
import type { FastifyInstance } from "fastify";
import type { SimContext } from "../context.ts";
import { injectedFailure, isAdmin, requestToken, servicePath, unauthorized } from "../context.ts";
import { cinderError } from "./errors.ts";
import { quotaRoutes, typeRoutes } from "./quotas.ts";
import { MAX_MINOR, MIN_MINOR, negotiate, setCall } from "./scope.ts";
import { CinderFault, type CinderState } from "./state.ts";
import { volumeRoutes } from "./volumes.ts";

export async function registerCinder(
  app: FastifyInstance,
  ctx: SimContext,
  state: CinderState,
  prefix: string,
): Promise<void> {
  await app.register(
    async (cinder) => {
      const root = () => `${ctx.baseUrl()}${prefix}`;
      const versions = () => ({
        versions: [
          {
            id: "v3.0",
            status: "CURRENT",
            version: `3.${MAX_MINOR}`,
            min_version: `3.${MIN_MINOR}`,
            updated: "2016-02-08T12:20:21Z",
            links: [
              { rel: "describedby", type: "text/html", href: "https://docs.openstack.org/" },
              { rel: "self", href: `${root()}/v3/` },
            ],
            "media-types": [
              { base: "application/json", type: "application/vnd.openstack.volume+json;version=3" },
            ],
          },
        ],
      });

      cinder.addHook("onRequest", async (req, reply) => {
        if (await injectedFailure(ctx.faults)) {
          return cinderError(
            reply,
            503,
            "The server is currently unavailable. Please try again at a later time.",
          );
        }
        const path = servicePath(req.url, prefix);
        if (path === "" || path === "/v3") return;
        const token = requestToken(ctx, req);
        if (!token) return unauthorized(reply);
        const minor = negotiate(req.headers["openstack-api-version"] as string | undefined);
        if (typeof minor !== "number") return cinderError(reply, minor.status, minor.message);
        reply.header("openstack-api-version", `volume 3.${minor}`).header("vary", "OpenStack-API-Version");
        const urlProject = path.split("/")[2];
        if (urlProject !== undefined && urlProject !== token.projectId) {
          return cinderError(reply, 400, "Malformed request url");
        }
        setCall(req, {
          projectId: token.projectId ?? "",
          userId: token.userId,
          admin: isAdmin(token),
          minor,
        });
      });
      cinder.setErrorHandler((err, _req, reply) => {
        if (err instanceof CinderFault) return cinderError(reply, err.status, err.message, err.retryAfter);
        const status = (err as { statusCode?: number }).statusCode;
        if (status && status >= 400 && status < 500)
          return cinderError(reply, status, (err as Error).message);
        return cinderError(
          reply,
          500,
          "The server has either erred or is incapable of performing the requested operation.",
        );
      });
      cinder.setNotFoundHandler((_req, reply) => cinderError(reply, 404, "The resource could not be found."));

      cinder.get("/", async (_req, reply) => reply.code(300).send(versions()));
      cinder.get("/v3", async () => versions());
      cinder.get("/v3/", async () => versions());

      const env = { ctx, state, root };
      volumeRoutes(cinder, env);
      typeRoutes(cinder, env);
      quotaRoutes(cinder, env);
    },
    { prefix },
  );
}
