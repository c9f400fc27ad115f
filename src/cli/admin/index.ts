// The operator CLI over the admin API: one command group per area of docs/admin-api.md.
import type { Command } from "commander";
import { assignCommand, unassignCommand, userServersCommand } from "./assignments.ts";
import { auditCommand } from "./audit.ts";
import { groupsCommand, usersCommand } from "./directory.ts";
import { floatingIpsCommand } from "./floating-ips.ts";
import { infoCommand } from "./info.ts";
import { instancesCommand } from "./instances.ts";
import { jobsCommand } from "./jobs.ts";
import { poolsCommand } from "./pools.ts";
import { sessionsCommand } from "./sessions.ts";
import { autoAllocateCommand, tasksCommand } from "./tasks.ts";
import { volumeAssignmentsCommand } from "./volume-assignments.ts";

export function addAdminCommands(program: Command): void {
  for (const cmd of [
    poolsCommand(),
    instancesCommand(),
    assignCommand(),
    unassignCommand(),
    userServersCommand(),
    sessionsCommand(),
    floatingIpsCommand(),
    volumeAssignmentsCommand(),
    tasksCommand(),
    jobsCommand(),
    autoAllocateCommand(),
    usersCommand(),
    groupsCommand(),
    infoCommand(),
    auditCommand(),
  ])
    program.addCommand(cmd);
}
