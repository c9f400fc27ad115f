// `rs-server instances ...`: TRS instances — list, show, create (in one Nova request), set
// their users and groups, delete (POST/PUT/GET/DELETE /servers/...).
import type { Command } from "commander";
import { CliError } from "./client.ts";
import { action, done, enc, filterOption, filterQuery, group, idList, positiveInt, show } from "./command.ts";
import { poolId } from "./pools.ts";
import { fields, table } from "./table.ts";

export const instanceColumns = [
  { header: "ID", value: "id" },
  { header: "NAME", value: "name" },
  { header: "STATUS", value: "status" },
  { header: "POOL", value: "project_id" },
  { header: "USERS", value: "users" },
  { header: "GROUPS", value: "groups" },
  { header: "CREATED", value: "created_at" },
];

export function instancesCommand(): Command {
  const instances = group("instances", "desktop instances (TRS servers)");

  action(
    instances
      .command("list")
      .description("list instances (GET /servers/)")
      .option("--pool <id>", "only this pool's instances (project_id)")
      .option("--assigned <bool>", "only instances with (true) or without (false) a user or group")
      .option("--user <id>", "only instances assigned to this user")
      .option("--group <id>", "only instances assigned to this group")
      .option("--with-os-object", "add Nova's server object and refresh the statuses")
      .option(...filterOption),
    async (ctx) => {
      const o = ctx.opts;
      const query = filterQuery(o.filter, {
        project_id: o.pool,
        assigned: o.assigned,
        user: o.user,
        group: o.group,
        with_os_object: o.withOsObject ? "true" : undefined,
      });
      const reply = await ctx.client.request("GET", "/servers/", { query });
      show(ctx, reply, (b) => table(b.servers, instanceColumns));
    },
  );

  action(
    instances
      .command("show")
      .description("show one instance (GET /servers/{id})")
      .argument("<instance>", "instance id")
      .option("--with-os-object", "add Nova's server object and refresh the status"),
    async (ctx) => {
      const query = { with_os_object: ctx.opts.withOsObject ? "true" : undefined };
      const reply = await ctx.client.request("GET", `/servers/${enc(ctx.args[0])}`, { query });
      show(ctx, reply, (b) => fields(b.server));
    },
  );

  action(
    instances
      .command("create")
      .description("create instances from a pool's template in one Nova request (POST /servers/)")
      .requiredOption("--pool <pool>", "the pool (project id or name) to create them in")
      .option("--count <n>", "how many (1-100)", positiveInt, 1)
      .option("--name <name>", "name (name-1 ... name-N with --count); default: the pool's pattern")
      .option("--description <text>", "description")
      .option("--users <ids>", "user ids to assign to every new instance, comma-separated", idList)
      .option("--groups <ids>", "group ids to assign to every new instance, comma-separated", idList),
    async (ctx) => {
      const o = ctx.opts;
      // An option left out is undefined, which JSON leaves out of the body.
      const server = {
        project_id: await poolId(ctx, o.pool),
        count: o.count,
        name: o.name,
        description: o.description,
        users: o.users,
        groups: o.groups,
      };
      const reply = await ctx.client.request("POST", "/servers/", { body: { server } });
      show(
        ctx,
        reply,
        (b) => `${table(b.servers, [{ header: "ID", value: "id" }])}reservation ${b.reservation_id}\n`,
      );
    },
  );

  action(
    instances
      .command("update")
      .description("replace an instance's users and/or groups (PUT /servers/{id}); a list left out is kept")
      .argument("<instance>", "instance id")
      .option("--users <ids>", 'the new users, comma-separated ("" removes all)', idList)
      .option("--groups <ids>", 'the new groups, comma-separated ("" removes all)', idList),
    async (ctx) => {
      const { users, groups } = ctx.opts;
      if (users === undefined && groups === undefined) throw new CliError("give --users and/or --groups", 2);
      // A list left out is undefined, which JSON leaves out: the API keeps it.
      const reply = await ctx.client.request("PUT", `/servers/${enc(ctx.args[0])}`, {
        body: { server: { users, groups } },
      });
      show(ctx, reply, (b) => fields(b.server));
    },
  );

  action(
    instances
      .command("delete")
      .description("delete an instance in Nova, ending its assignments and sessions (DELETE /servers/{id})")
      .argument("<instance>", "instance id"),
    async (ctx) => {
      await ctx.client.request("DELETE", `/servers/${enc(ctx.args[0])}`);
      done(ctx, `deleted instance ${ctx.args[0]}`);
    },
  );

  return instances;
}
