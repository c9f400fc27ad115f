// The core as a library: every use case of both APIs, built from its dependencies with no
// side effect (nothing registered, nothing started). Routes get `Core`; the composition root
// (src/composition.ts) builds it and registers the tasks and schedules that run parts of it.
import type { TaskService } from "../tasks/engine.ts";
import { ActivityService } from "./activity.ts";
import { type AdminCore, createAdminCore } from "./admin-core.ts";
import { AuditService } from "./audit.ts";
import { type BrokerCore, createBrokerCore } from "./broker/index.ts";
import { type ConsoleCore, createConsoleCore } from "./console-tickets.ts";
import { DashboardSignIn } from "./dashboard-signin.ts";
import type { CoreDeps } from "./deps.ts";
import type { License } from "./license.ts";
import { AdminScopes } from "./scope.ts";
import { userResourcesOf } from "./user-resources.ts";

export interface Core extends AdminCore {
  /** request-vm, get-vm, get-projects, change-password and the allocation they start. */
  broker: BrokerCore;
  /** The web desktop: console tickets for the broker's gateway, or Nova's console URL. */
  console: ConsoleCore;
  /** The admin dashboard's own use cases: its sign-in and the activity behind its charts. */
  dashboard: DashboardCore;
  tasks: TaskService;
  license: License;
  /** The audit trail of the admin API's changes (issue 16). */
  audit: AuditService;
  /** Who is an admin of what: Keystone's token scopes under auth.scope (core/scope.ts). */
  scopes: AdminScopes;
}

export interface DashboardCore {
  signIn: DashboardSignIn;
  activity: ActivityService;
}

export function createCore(deps: CoreDeps): Core {
  const broker = createBrokerCore(deps);
  // A user or a group whose access changed here: the broker asks Keystone again at once.
  const admin = createAdminCore(deps, userResourcesOf(deps), (actor) =>
    broker.forgetUser("userId" in actor ? actor.userId : undefined),
  );
  const scopes = new AdminScopes(
    deps.config.auth,
    () => deps.cloud.session.projectId(),
    async (projectId) => (await admin.pools.find(projectId)) !== undefined,
  );
  return {
    ...admin,
    broker,
    console: createConsoleCore(deps, admin),
    dashboard: {
      signIn: new DashboardSignIn(deps.operatorKeystone, deps.config.auth.adminRoles, scopes),
      activity: new ActivityService(deps.repos.activity),
    },
    tasks: deps.tasks,
    license: deps.license,
    audit: new AuditService(deps.repos.audit, deps.logger),
    scopes,
  };
}
