// Version discovery at /identity/ (300 Multiple Choices) and /identity/v3 (the v3 document),
// in the shape keystoneauth and openstacksdk read.
import type { FastifyInstance } from "fastify";
import type { Keystone } from "./core.ts";

// Keystone Zed (Debian 12) reports v3.14.
const VERSION = "v3.14";
const UPDATED = "2020-04-07T00:00:00Z";

function versionDoc(ks: Keystone) {
  return {
    id: VERSION,
    status: "stable",
    updated: UPDATED,
    links: [{ rel: "self", href: `${ks.identityUrl()}/v3/` }],
    "media-types": [{ base: "application/json", type: "application/vnd.openstack.identity-v3+json" }],
  };
}

export function registerDiscoveryRoutes(app: FastifyInstance, ks: Keystone) {
  app.get("/", async (_req, reply) =>
    reply
      .code(300)
      .header("Location", `${ks.identityUrl()}/v3/`)
      .send({ versions: { values: [versionDoc(ks)] } }),
  );
  app.get("/v3", async () => ({ version: versionDoc(ks) }));
  app.get("/v3/", async () => ({ version: versionDoc(ks) }));
}
