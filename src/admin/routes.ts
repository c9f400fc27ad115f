// Every route module of the admin API, registered under /v1.
import type { AdminRoutes } from "./app.ts";
import { infoRoutes } from "./info.ts";
import { taskRoutes } from "./tasks.ts";

export const adminRoutes: AdminRoutes[] = [infoRoutes, taskRoutes];
