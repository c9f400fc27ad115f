// `rs-server instances ...`: TRS instances — list, show, create (in one Nova request, and
// optionally wait for them to build), set their users and groups, delete
// (POST/PUT/GET/DELETE /servers/...).
import type { Command } from "commander";
import { CliError } from "./client.ts";
import {
  action,
  type Ctx,
  done,
  enc,
  filterOption,
  filterQuery,
  group,
  idList,
  pageOptions,
  pageQuery,
  positiveInt,
  printList,
  printObject,
} from "./command.ts";
import { instanceDrainCommands } from "./drain.ts";
import { groupId, instanceId, optionalId, poolId, resolveAll, userId } from "./names.ts";
import type { Row } from "./table.ts";

export const instanceColumns = [
  { header: "ID", value: "id" },
  { header: "Name", value: "name" },
  { header: "Status", value: "status" },
  { header: "Pool", value: "project_id" },
  { header: "Users", value: "users" },
  { header: "Groups", value: "groups" },
  { header: "Created", value: "created_at" },
];

/** Statuses a new instance leaves BUILD for; the wait ends when every one has left it. */
const BUILDING = new Set(["BUILD"]);
const POLL_MS = 1000;

/**
 * Polls the pool's instances (one Nova listing per round: with_os_object refreshes their
 * statuses) until none of `ids` is building, showing the count on a terminal.
 */
async function waitForBuilds(
  ctx: Ctx,
  pool: string,
  ids: string[],
  seconds: number,
): Promise<{ rows: Row[] }> {
  const started = Date.now();
  const wanted = new Set(ids);
  for (;;) {
    const reply = await ctx.client.request("GET", "/servers/", {
      query: { project_id: pool, with_os_object: "true" },
    });
    const rows = (reply.body.servers as Row[]).filter((s) => wanted.has(s.id as string));
    const building = rows.filter((s) => BUILDING.has(s.status as string)).length;
    const elapsed = Math.round((Date.now() - started) / 1000);
    ctx.progress(
      `${ids.length - building}/${ids.length} instances built, ${building} building (${elapsed} s)`,
    );
    if (building === 0) return { rows };
    if (elapsed > seconds)
      throw new CliError(`${building} of ${ids.length} instances are still building after ${seconds} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export function instancesCommand(): Command {
  const instances = group("instances", "desktop instances (TRS servers)");

  action(
    pageOptions(instances.command("list").description("list instances (GET /servers/)"))
      .option("--pool <pool>", "only this pool's instances (id or name)")
      .option("--assigned <bool>", "only instances with (true) or without (false) a user or group")
      .option("--user <user>", "only instances assigned to this user (id or name)")
      .option("--group <group>", "only instances assigned to this group (id or name)")
      .option("--with-os-object", "add Nova's server object and refresh the statuses")
      .option(...filterOption),
    async (ctx) => {
      const o = ctx.opts;
      // A pool name that matches no pool is an error here, not an empty list.
      const [pool, user, grp] = await Promise.all([
        optionalId(ctx, o.pool, poolId),
        optionalId(ctx, o.user, userId),
        optionalId(ctx, o.group, groupId),
      ]);
      const query = filterQuery(o.filter, {
        project_id: pool,
        assigned: o.assigned,
        user,
        group: grp,
        with_os_object: o.withOsObject ? "true" : undefined,
        ...pageQuery(o),
      });
      const reply = await ctx.client.request("GET", "/servers/", { query });
      printList(ctx, reply, reply.body.servers, instanceColumns);
    },
  );

  action(
    instances
      .command("show")
      .description("show one instance (GET /servers/{id})")
      .argument("<instance>", "instance id or name")
      .option("--with-os-object", "add Nova's server object and refresh the status"),
    async (ctx) => {
      const query = { with_os_object: ctx.opts.withOsObject ? "true" : undefined };
      const id = await instanceId(ctx, ctx.args[0]);
      const reply = await ctx.client.request("GET", `/servers/${enc(id)}`, { query });
      printObject(ctx, reply, reply.body.server);
    },
  );

  action(
    instances
      .command("create")
      .description("create instances from a pool's template in one Nova request (POST /servers/)")
      .requiredOption("--pool <pool>", "the pool (project id or name) to create them in")
      .option("--count <n>", "how many", positiveInt, 1)
      .option("--name <name>", "name (name-1 ... name-N with --count); default: the pool's pattern")
      .option("--description <text>", "description")
      .option(
        "--users <users>",
        "users (ids or names) to assign to every new instance, comma-separated",
        idList,
      )
      .option(
        "--groups <groups>",
        "groups (ids or names) to assign to every new instance, comma-separated",
        idList,
      )
      .option(
        "--wait [seconds]",
        "wait until they are built (ACTIVE or ERROR; default at most 600 s), then list them",
        positiveInt,
      ),
    async (ctx) => {
      const o = ctx.opts;
      const [pool, users, groups] = await Promise.all([
        poolId(ctx, o.pool),
        resolveAll(ctx, o.users, userId),
        resolveAll(ctx, o.groups, groupId),
      ]);
      // An option left out is undefined, which JSON leaves out of the body.
      const server = {
        project_id: pool,
        count: o.count,
        name: o.name,
        description: o.description,
        users,
        groups,
      };
      const reply = await ctx.client.request("POST", "/servers/", { body: { server } });
      const ids: string[] = reply.body.servers.map((s: { id: string }) => s.id);
      if (o.wait === undefined) {
        const rows = ids.map((id) => ({ id, reservation_id: reply.body.reservation_id }));
        printList(ctx, reply, rows, [
          { header: "ID", value: "id" },
          { header: "Reservation ID", value: "reservation_id" },
        ]);
        return;
      }
      const built = await waitForBuilds(ctx, pool, ids, o.wait === true ? 600 : o.wait);
      // --json prints the creation's answer; the other formats the instances as built.
      printList(ctx, reply, built.rows, instanceColumns);
      const status = new Map(built.rows.map((s) => [s.id as string, s.status as string]));
      const failed = ids.filter((id) => status.get(id) !== "ACTIVE");
      if (failed.length > 0)
        throw new CliError(
          `${failed.length} of ${ids.length} instances did not become ACTIVE: ${failed.map((id) => `${id} ${status.get(id) ?? "gone"}`).join(", ")}`,
        );
    },
  );

  action(
    instances
      .command("update")
      .description("replace an instance's users and/or groups (PUT /servers/{id}); a list left out is kept")
      .argument("<instance>", "instance id or name")
      .option("--users <users>", 'the new users, ids or names, comma-separated ("" removes all)', idList)
      .option("--groups <groups>", 'the new groups, ids or names, comma-separated ("" removes all)', idList),
    async (ctx) => {
      if (ctx.opts.users === undefined && ctx.opts.groups === undefined)
        throw new CliError("give --users and/or --groups", 2);
      const [id, users, groups] = await Promise.all([
        instanceId(ctx, ctx.args[0]),
        resolveAll(ctx, ctx.opts.users, userId),
        resolveAll(ctx, ctx.opts.groups, groupId),
      ]);
      // A list left out is undefined, which JSON leaves out: the API keeps it.
      const reply = await ctx.client.request("PUT", `/servers/${enc(id)}`, {
        body: { server: { users, groups } },
      });
      printObject(ctx, reply, reply.body.server);
    },
  );

  action(
    instances
      .command("delete")
      .description("delete an instance in Nova, ending its assignments and sessions (DELETE /servers/{id})")
      .argument("<instance>", "instance id or name"),
    async (ctx) => {
      const id = await instanceId(ctx, ctx.args[0]);
      await ctx.client.request("DELETE", `/servers/${enc(id)}`);
      done(ctx, `deleted instance ${ctx.args[0]}`);
    },
    { prints: false },
  );

  instanceDrainCommands(instances);
  return instances;
}
