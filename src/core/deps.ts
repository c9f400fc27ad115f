// What the core is built from. main.ts (and test/helpers/stack.ts) assemble it.
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Cloud } from "../cloud/cloud.ts";
import type { KeystoneClient } from "../cloud/keystone.ts";
import type { Config } from "../config/schema.ts";
import type { Database } from "../store/schema.ts";
import type { TaskEngine } from "../tasks/engine.ts";
import type { Scheduler } from "../tasks/scheduler.ts";
import type { LicenseService } from "./license.ts";

export interface CoreDeps {
  config: Config;
  db: Kysely<Database>;
  cloud: Cloud<KeystoneClient> & { keystone: KeystoneClient };
  tasks: TaskEngine;
  scheduler: Scheduler;
  license: LicenseService;
  logger: Logger;
}
