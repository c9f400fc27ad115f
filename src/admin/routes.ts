// Every route module of the admin API, registered under /v1.
import type { AdminRoutes } from "./app.ts";

export const adminRoutes: AdminRoutes[] = [];
