// `rs-server sessions ...`: session history — list and count with the API's filters and
// modifiers, and close a session (GET /sessions/, GET /sessions/count, PUT /sessions/{id}).
import type { Command } from "commander";
import {
  action,
  type Ctx,
  enc,
  filterOption,
  filterQuery,
  group,
  pageOptions,
  pageQuery,
  printList,
  printObject,
} from "./command.ts";
import { instanceId, optionalId, poolId, userId } from "./names.ts";

function filtered(cmd: Command): Command {
  return cmd
    .option("--user <user>", "only this user's sessions (user_id; id or name)")
    .option("--user-name <name>", "only this user name (user_name)")
    .option("--instance <instance>", "only sessions on this instance (instance_id; id or name)")
    .option("--instance-name <name>", "only sessions on instances of this name")
    .option("--pool <pool>", "only sessions in this pool (project_id; id or name)")
    .option("--connection-type <type>", "only this connection type (web, rsclient, rdp, ...)")
    .option("--last", "only the latest matching session of each instance")
    .option(...filterOption);
}

async function sessionQuery(ctx: Ctx) {
  const o = ctx.opts;
  const [user, instance, pool] = await Promise.all([
    optionalId(ctx, o.user, userId),
    optionalId(ctx, o.instance, instanceId),
    optionalId(ctx, o.pool, poolId),
  ]);
  return filterQuery(o.filter, {
    user_id: user,
    user_name: o.userName,
    instance_id: instance,
    instance_name: o.instanceName,
    project_id: pool,
    connection_type: o.connectionType,
    last: o.last ? "true" : undefined,
  });
}

export function sessionsCommand(): Command {
  const sessions = group("sessions", "session history: who used which desktop, from where, when");

  action(
    pageOptions(
      filtered(sessions.command("list").description("list sessions, newest first (GET /sessions/)")),
    ),
    async (ctx) => {
      const query = { ...(await sessionQuery(ctx)), ...pageQuery(ctx.opts) };
      const reply = await ctx.client.request("GET", "/sessions/", { query });
      printList(ctx, reply, reply.body.sessions, [
        { header: "Session", value: "session_id" },
        { header: "User", value: "user_name" },
        { header: "Instance", value: "instance_name" },
        { header: "Type", value: "connection_type" },
        { header: "Client IP", value: "client_ip" },
        { header: "Opened", value: "created_at" },
        { header: "Closed", value: "closed_at" },
        { header: "Closed reason", value: "closed_reason" },
      ]);
    },
  );

  action(
    filtered(
      sessions.command("count").description("count the sessions list would show (GET /sessions/count)"),
    ),
    async (ctx) => {
      const reply = await ctx.client.request("GET", "/sessions/count", { query: await sessionQuery(ctx) });
      printObject(ctx, reply, { count: reply.body.count });
    },
  );

  action(
    sessions
      .command("close")
      .description("close a session and remove the client rules it opened (PUT /sessions/{id})")
      .argument("<session>", "session id")
      .option("--at <time>", "when it closed, ISO 8601 UTC (default now)"),
    async (ctx) => {
      const body = ctx.opts.at ? { session: { closed_at: ctx.opts.at } } : {};
      const reply = await ctx.client.request("PUT", `/sessions/${enc(ctx.args[0])}`, { body });
      printObject(ctx, reply, reply.body.session);
    },
  );

  return sessions;
}
