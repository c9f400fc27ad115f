// `rs-server assign|unassign user|group ...` and `rs-server user-servers <user>`: users and
// groups of instances (POST/DELETE /servers/{id}/users|groups/, GET /users/{id}/servers/).
import type { Command } from "commander";
import { action, done, enc, group, show } from "./command.ts";
import { table } from "./table.ts";

const KINDS = [
  { name: "user", plural: "users" },
  { name: "group", plural: "groups" },
] as const;

export function assignCommand(): Command {
  const assign = group("assign", "assign users or groups to an instance (all or nothing)");
  for (const kind of KINDS) {
    action(
      assign
        .command(kind.name)
        .description(`assign ${kind.plural} to an instance (POST /servers/{id}/${kind.plural}/)`)
        .argument("<instance>", "instance id")
        .argument(`<${kind.name}-ids...>`, `${kind.name} ids`),
      async (ctx) => {
        const [instance, ids] = ctx.args as [string, string[]];
        await ctx.client.request("POST", `/servers/${enc(instance)}/${kind.plural}/`, {
          body: { [kind.plural]: ids },
        });
        done(ctx, `assigned ${kind.name} ${ids.join(", ")} to instance ${instance}`);
      },
    );
  }
  return assign;
}

export function unassignCommand(): Command {
  const unassign = group("unassign", "remove a user or group from an instance");
  for (const kind of KINDS) {
    action(
      unassign
        .command(kind.name)
        .description(
          `remove a ${kind.name} from an instance (DELETE /servers/{id}/${kind.plural}/{${kind.name}_id}); their sessions there close`,
        )
        .argument("<instance>", "instance id")
        .argument(`<${kind.name}-id>`, `${kind.name} id`),
      async (ctx) => {
        const [instance, id] = ctx.args as [string, string];
        await ctx.client.request("DELETE", `/servers/${enc(instance)}/${kind.plural}/${enc(id)}`);
        done(ctx, `unassigned ${kind.name} ${id} from instance ${instance}`);
      },
    );
  }
  return unassign;
}

export function userServersCommand(): Command {
  return action(
    group("user-servers", "instances assigned to a user directly (GET /users/{id}/servers/)").argument(
      "<user>",
      "user id",
    ),
    async (ctx) => {
      const reply = await ctx.client.request("GET", `/users/${enc(ctx.args[0])}/servers/`);
      show(ctx, reply, (b) =>
        table(b.servers, [
          { header: "INSTANCE", value: "instance_id" },
          { header: "POOL", value: "project_id" },
          { header: "POOL NAME", value: "project_name" },
        ]),
      );
    },
  );
}
