// The core as a library: every use case of both APIs, built from its dependencies with no
// side effect (nothing registered, nothing started). Routes get `Core`; the composition root
// (src/composition.ts) builds it and registers the tasks and schedules that run parts of it.
import type { TaskService } from "../tasks/engine.ts";
import { type AdminCore, createAdminCore } from "./admin-core.ts";
import { type BrokerCore, createBrokerCore } from "./broker/index.ts";
import { type ConsoleCore, createConsoleCore } from "./console-tickets.ts";
import type { CoreDeps } from "./deps.ts";
import type { License } from "./license.ts";
import { userResourcesOf } from "./user-resources.ts";

export interface Core extends AdminCore {
  /** request-vm, get-vm, get-projects, change-password and the allocation they start. */
  broker: BrokerCore;
  /** The web desktop: console tickets for the broker's gateway, or Nova's console URL. */
  console: ConsoleCore;
  tasks: TaskService;
  license: License;
}

export function createCore(deps: CoreDeps): Core {
  const admin = createAdminCore(deps, userResourcesOf(deps));
  return {
    ...admin,
    broker: createBrokerCore(deps),
    console: createConsoleCore(deps, admin),
    tasks: deps.tasks,
    license: deps.license,
  };
}
