// Nova 2.1 mounted under /compute: version discovery at /compute/ and /compute/v2.1 (public,
// as Nova's urlmap serves them), then fault injection, keystonemiddleware's token check and
// microversion negotiation in front of every API route.
import type { FastifyInstance } from "fastify";
import { injectedFailure, isAdmin, requestToken, servicePath, unauthorized } from "../context.ts";
import { actionRoutes } from "./actions.ts";
import { NovaFault, novaError } from "./errors.ts";
import { flavorRoutes } from "./flavors.ts";
import { echo, MAX_MINOR, MIN_MINOR, negotiate } from "./microversion.ts";
import { quotaRoutes } from "./quotas.ts";
import { remoteConsoleRoutes } from "./remote-consoles.ts";
import { type NovaEnv, setCall } from "./scope.ts";
import { serverRoutes } from "./servers.ts";
import { tagRoutes } from "./tags.ts";
import { volumeAttachmentRoutes } from "./volume-attachments.ts";

export async function registerNova(app: FastifyInstance, env: NovaEnv, prefix: string): Promise<void> {
  const { ctx } = env;
  await app.register(
    async (nova) => {
      const v21 = () => ({
        id: "v2.1",
        status: "CURRENT",
        version: `2.${MAX_MINOR}`,
        min_version: `2.${MIN_MINOR}`,
        updated: "2013-07-23T11:33:21Z",
        links: [{ rel: "self", href: `${env.root()}/v2.1/` }],
      });

      nova.addHook("onRequest", async (req, reply) => {
        if (await injectedFailure(ctx.faults)) {
          return novaError(
            reply,
            503,
            "The server is currently unavailable. Please try again at a later time.",
          );
        }
        const path = servicePath(req.url, prefix);
        if (path === "" || path === "/v2.1") return;
        const token = requestToken(ctx, req);
        if (!token) return unauthorized(reply);
        let minor: number;
        try {
          minor = negotiate(req);
        } catch (e) {
          if (e instanceof NovaFault) return novaError(reply, e.status, e.message);
          throw e;
        }
        echo(reply, minor);
        setCall(req, {
          projectId: token.projectId ?? "",
          userId: token.userId,
          admin: isAdmin(token),
          minor,
        });
      });
      nova.setErrorHandler((err, _req, reply) => {
        if (err instanceof NovaFault) return novaError(reply, err.status, err.message);
        const status = (err as { statusCode?: number }).statusCode;
        if (status && status >= 400 && status < 500) {
          return novaError(reply, status, `The request body is invalid: ${(err as Error).message}`);
        }
        return novaError(
          reply,
          500,
          "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.",
        );
      });
      nova.setNotFoundHandler((_req, reply) => novaError(reply, 404, "The resource could not be found."));

      nova.get("/", async () => ({
        versions: [
          {
            id: "v2.0",
            status: "SUPPORTED",
            version: "",
            min_version: "",
            updated: "2011-01-21T11:33:21Z",
            links: [{ rel: "self", href: `${env.root()}/v2/` }],
          },
          v21(),
        ],
      }));
      const show = async () => ({
        version: {
          ...v21(),
          links: [
            { rel: "self", href: `${env.root()}/v2.1/` },
            { rel: "describedby", type: "text/html", href: "http://docs.openstack.org/" },
          ],
          "media-types": [
            { base: "application/json", type: "application/vnd.openstack.compute+json;version=2.1" },
          ],
        },
      });
      nova.get("/v2.1", show);
      nova.get("/v2.1/", show);

      serverRoutes(nova, env);
      actionRoutes(nova, env);
      tagRoutes(nova, env);
      remoteConsoleRoutes(nova, env);
      volumeAttachmentRoutes(nova, env);
      flavorRoutes(nova, env);
      quotaRoutes(nova, env);
    },
    { prefix },
  );
}
