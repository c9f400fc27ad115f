// The core: business rules as plain objects taking their dependencies. Routes get `Core`.
import type { TaskService } from "../tasks/engine.ts";
import type { AdminCore } from "./admin-core.ts";
import type { LicenseService } from "./license.ts";

export interface Core extends AdminCore {
  tasks: TaskService;
  license: LicenseService;
}
