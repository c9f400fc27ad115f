// The core: business rules as plain objects taking their dependencies. Routes get `Core`.
import type { TaskService } from "../tasks/engine.ts";
import type { LicenseService } from "./license.ts";

export interface Core {
  tasks: TaskService;
  license: LicenseService;
}
