// The simulated Keystone v3 as one unit: routes under /identity, the SimIdentity other
// simulated services validate tokens with, seeding, and snapshot/restore.
import type { FastifyInstance } from "fastify";
import type { SimIdentity, SimToken } from "../context.ts";
import { registerAuthRoutes } from "./auth.ts";
import { Keystone } from "./core.ts";
import { registerCredentialRoutes } from "./credentials.ts";
import { registerDiscoveryRoutes } from "./discovery.ts";
import { registerDomainRoutes } from "./domains.ts";
import { keystoneErrorHandler, sendError } from "./errors.ts";
import { registerGroupRoutes } from "./groups.ts";
import { registerProjectRoutes } from "./projects.ts";
import { registerRoleRoutes } from "./roles.ts";
import { type KeystoneSeed, type KeystoneSeedInput, seedKeystone } from "./seed.ts";
import { type KeystoneSettings, type KeystoneState, withoutPrototypes } from "./state.ts";
import { resolveToken } from "./tokens.ts";
import { registerUserRoutes } from "./users.ts";

export type { KeystoneSeed, KeystoneSettings, KeystoneState };
export { Keystone };

export interface KeystoneSim {
  keystone: Keystone;
  identity: SimIdentity;
  /** Registers every identity route under /identity. */
  register(app: FastifyInstance): Promise<void>;
  seed(input: KeystoneSeedInput): KeystoneSeed;
  snapshot(): KeystoneState;
  restore(state: KeystoneState): void;
}

export function createKeystoneSim(
  baseUrl: () => string,
  settings: Partial<KeystoneSettings> = {},
): KeystoneSim {
  const ks = new Keystone(settings, baseUrl);
  const identity: SimIdentity = {
    validate(token: string): SimToken | undefined {
      const ctx = resolveToken(ks, token);
      if (!ctx) return undefined;
      return {
        userId: ctx.user.id,
        userName: ctx.user.name,
        domainId: ctx.user.domainId,
        projectId: ctx.project?.id,
        projectName: ctx.project?.name,
        roles: ctx.roles.map((r) => r.name),
        expiresAt: new Date(ctx.rec.expiresAt),
      };
    },
    projectExists: (projectId: string) => ks.state.projects[projectId] !== undefined,
  };

  return {
    keystone: ks,
    identity,
    async register(app) {
      await app.register(
        async (scope) => {
          scope.setErrorHandler(keystoneErrorHandler(() => `Keystone uri="${ks.identityUrl()}"`));
          scope.setNotFoundHandler((_req, reply) =>
            sendError(reply, 404, "The resource could not be found."),
          );
          scope.addHook("onSend", async (_req, reply) => {
            reply.header("Vary", "X-Auth-Token");
            reply.header("x-openstack-request-id", `req-${crypto.randomUUID()}`);
          });
          registerDiscoveryRoutes(scope, ks);
          registerAuthRoutes(scope, ks);
          registerDomainRoutes(scope, ks);
          registerProjectRoutes(scope, ks);
          registerUserRoutes(scope, ks);
          registerGroupRoutes(scope, ks);
          registerRoleRoutes(scope, ks);
          registerCredentialRoutes(scope, ks);
        },
        { prefix: "/identity" },
      );
    },
    seed: (input) => seedKeystone(ks, input),
    snapshot: () => structuredClone(ks.state),
    restore(state) {
      ks.state = withoutPrototypes(structuredClone(state));
      ks.touch();
    },
  };
}
