// Everything the admin dashboard adds to the admin API's server: its pages at /dashboard/
// (and / redirecting there), and the extension routes it calls, /v1/auth/tokens (sign-in)
// and /v1/activity (charts, task progress). Registered by the runtime beside /metrics.
import type { Kysely } from "kysely";
import type { KeystoneClient } from "../cloud/keystone.ts";
import type { Config } from "../config/schema.ts";
import type { Throttle } from "../core/throttle.ts";
import type { App } from "../http/app.ts";
import type { TokenAuth } from "../http/auth.ts";
import type { Database } from "../store/schema.ts";
import { activityRoutes } from "./activity.ts";
import { authTokenRoutes } from "./auth-tokens.ts";
import { dashboardAssetRoutes } from "./dashboard.ts";

export interface DashboardDeps {
  app: App;
  config: Config;
  keystone: Pick<KeystoneClient, "authenticatePassword" | "authenticateTotp" | "validateToken">;
  db: Kysely<Database>;
  auth: TokenAuth;
  /** The authentication rate limits (none: unlimited). */
  throttle?: Throttle;
}

export async function dashboardRoutes(app: App, deps: Omit<DashboardDeps, "app">): Promise<void> {
  dashboardAssetRoutes(app);
  await app.register(
    async (v1) => {
      const full = { ...deps, app: v1 as App };
      authTokenRoutes(v1 as App, full);
      activityRoutes(v1 as App, full);
    },
    { prefix: "/v1" },
  );
}
