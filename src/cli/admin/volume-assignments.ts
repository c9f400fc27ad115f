// `rs-server volume-assignments ...`: which user's data volume belongs to which pool
// (GET/POST /volume-assignments/, GET/DELETE /volume-assignments/{id}).
import type { Command } from "commander";
import { action, done, enc, filterOption, filterQuery, group, show } from "./command.ts";
import { fields, table } from "./table.ts";

export function volumeAssignmentsCommand(): Command {
  const va = group("volume-assignments", "users' data volumes per pool");

  action(
    va
      .command("list")
      .description("list volume assignments (GET /volume-assignments/)")
      .option("--user <id>", "only this user's (user_id)")
      .option("--pool <id>", "only this pool's (project_id)")
      .option("--volume <id>", "only this volume's (volume_id)")
      .option(...filterOption),
    async (ctx) => {
      const o = ctx.opts;
      const query = filterQuery(o.filter, { user_id: o.user, project_id: o.pool, volume_id: o.volume });
      const reply = await ctx.client.request("GET", "/volume-assignments/", { query });
      show(ctx, reply, (b) =>
        table(b["volume-assignments"], [
          { header: "ID", value: "id" },
          { header: "USER", value: "user_id" },
          { header: "POOL", value: "project_id" },
          { header: "VOLUME", value: "volume_id" },
        ]),
      );
    },
  );

  action(
    va
      .command("show")
      .description("show one volume assignment (GET /volume-assignments/{id})")
      .argument("<id>", "volume assignment id (a number)"),
    async (ctx) => {
      const reply = await ctx.client.request("GET", `/volume-assignments/${enc(ctx.args[0])}`);
      show(ctx, reply, (b) => fields(b["volume-assignment"]));
    },
  );

  action(
    va
      .command("create")
      .description("record that a Cinder volume is a user's volume in a pool (POST /volume-assignments/)")
      .requiredOption("--user <id>", "user id")
      .requiredOption("--pool <id>", "pool (project) id")
      .requiredOption("--volume <id>", "Cinder volume id"),
    async (ctx) => {
      const o = ctx.opts;
      const body = { user_id: o.user, project_id: o.pool, volume_id: o.volume };
      const reply = await ctx.client.request("POST", "/volume-assignments/", { body });
      show(ctx, reply, (b) => fields(b["volume-assignment"]));
    },
  );

  action(
    va
      .command("delete")
      .description("delete a volume assignment; the volume stays in Cinder (DELETE /volume-assignments/{id})")
      .argument("<id>", "volume assignment id"),
    async (ctx) => {
      await ctx.client.request("DELETE", `/volume-assignments/${enc(ctx.args[0])}`);
      done(ctx, `deleted volume assignment ${ctx.args[0]}`);
    },
  );

  return va;
}
