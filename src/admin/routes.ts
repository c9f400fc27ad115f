// Every route module of the admin API, registered under /v1.
import { activityRoutes } from "./activity.ts";
import type { AdminRoutes } from "./app.ts";
import { assignmentRoutes } from "./assignments.ts";
import { auditRoutes } from "./audit.ts";
import { authTokenRoutes } from "./auth-tokens.ts";
import { directoryRoutes } from "./directory.ts";
import { drainRoutes } from "./drain.ts";
import { floatingIpRoutes } from "./floating-ips.ts";
import { infoRoutes } from "./info.ts";
import { jobRoutes } from "./jobs.ts";
import { poolAccessRoutes } from "./pool-access.ts";
import { projectRoutes } from "./projects.ts";
import { serverRoutes } from "./servers.ts";
import { sessionRoutes } from "./sessions.ts";
import { taskRoutes } from "./tasks.ts";
import { volumeAssignmentRoutes } from "./volume-assignments.ts";

export const adminRoutes: AdminRoutes[] = [
  infoRoutes,
  taskRoutes,
  jobRoutes,
  projectRoutes,
  serverRoutes,
  assignmentRoutes,
  floatingIpRoutes,
  sessionRoutes,
  volumeAssignmentRoutes,
  poolAccessRoutes,
  directoryRoutes,
  drainRoutes,
  // The dashboard's: its sign-in (public) and the activity behind its charts and task list.
  authTokenRoutes,
  activityRoutes,
  // The audit trail of every change above (issue 16).
  auditRoutes,
];
