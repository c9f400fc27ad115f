// `rs-server sessions ...`: session history — list and count with the API's filters and
// modifiers, and close a session (GET /sessions/, GET /sessions/count, PUT /sessions/{id}).
import type { Command } from "commander";
import { action, type Ctx, enc, filterOption, filterQuery, group, show } from "./command.ts";
import { fields, table } from "./table.ts";

function filtered(cmd: Command): Command {
  return cmd
    .option("--user <id>", "only this user's sessions (user_id)")
    .option("--user-name <name>", "only this user name (user_name)")
    .option("--instance <id>", "only sessions on this instance (instance_id)")
    .option("--instance-name <name>", "only sessions on instances of this name")
    .option("--pool <id>", "only sessions in this pool (project_id)")
    .option("--connection-type <type>", "only this connection type (web, rsclient, rdp, ...)")
    .option("--last", "only the latest matching session of each instance")
    .option(...filterOption);
}

function sessionQuery(ctx: Ctx) {
  const o = ctx.opts;
  return filterQuery(o.filter, {
    user_id: o.user,
    user_name: o.userName,
    instance_id: o.instance,
    instance_name: o.instanceName,
    project_id: o.pool,
    connection_type: o.connectionType,
    last: o.last ? "true" : undefined,
  });
}

export function sessionsCommand(): Command {
  const sessions = group("sessions", "session history: who used which desktop, from where, when");

  action(
    filtered(sessions.command("list").description("list sessions, newest first (GET /sessions/)")),
    async (ctx) => {
      const reply = await ctx.client.request("GET", "/sessions/", { query: sessionQuery(ctx) });
      show(ctx, reply, (b) =>
        table(b.sessions, [
          { header: "SESSION", value: "session_id" },
          { header: "USER", value: "user_name" },
          { header: "INSTANCE", value: "instance_name" },
          { header: "TYPE", value: "connection_type" },
          { header: "CLIENT IP", value: "client_ip" },
          { header: "OPENED", value: "created_at" },
          { header: "CLOSED", value: "closed_at" },
        ]),
      );
    },
  );

  action(
    filtered(
      sessions.command("count").description("count the sessions list would show (GET /sessions/count)"),
    ),
    async (ctx) => {
      const reply = await ctx.client.request("GET", "/sessions/count", { query: sessionQuery(ctx) });
      show(ctx, reply, (b) => `${b.count}\n`);
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
      show(ctx, reply, (b) => fields(b.session));
    },
  );

  return sessions;
}
