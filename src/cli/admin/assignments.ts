// `rs-server assign|unassign user|group ...` and `rs-server user-servers <user>`: users and
// groups of instances (POST/DELETE /servers/{id}/users|groups/, GET /users/{id}/servers/).
// `assign ... --with-access` also grants them access to the instance's pool (access.ts): the
// broker wants both an assignment and the access role.
import type { Command } from "commander";
import { action, done, enc, group, printList } from "./command.ts";
import { groupId, instanceId, userId } from "./names.ts";

const KINDS = [
  { name: "user", plural: "users", resolve: userId },
  { name: "group", plural: "groups", resolve: groupId },
] as const;

export function assignCommand(): Command {
  const assign = group("assign", "assign users or groups to an instance (all or nothing)");
  for (const kind of KINDS) {
    action(
      assign
        .command(kind.name)
        .description(`assign ${kind.plural} to an instance (POST /servers/{id}/${kind.plural}/)`)
        .argument("<instance>", "instance id or name")
        .argument(`<${kind.plural}...>`, `${kind.plural}, ids or names`)
        .option(
          "--with-access",
          `also grant the ${kind.plural} access to the instance's pool (PUT /projects/{id}/access/${kind.plural}/{id})`,
        ),
      async (ctx) => {
        const [instance, refs] = ctx.args as [string, string[]];
        const [id, ids] = await Promise.all([
          instanceId(ctx, instance),
          Promise.all(refs.map((r) => kind.resolve(ctx, r))),
        ]);
        await ctx.client.request("POST", `/servers/${enc(id)}/${kind.plural}/`, {
          body: { [kind.plural]: ids },
        });
        done(ctx, `assigned ${kind.name} ${refs.join(", ")} to instance ${instance}`);
        if (!ctx.opts.withAccess) return;
        const server = await ctx.client.request("GET", `/servers/${enc(id)}`);
        const pool: string = server.body.server.project_id;
        for (const [i, holder] of ids.entries()) {
          await ctx.client.request("PUT", `/projects/${enc(pool)}/access/${kind.plural}/${enc(holder)}`);
          done(ctx, `granted access to pool ${pool} for ${kind.name} ${refs[i]}`);
        }
      },
      { prints: false },
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
        .argument("<instance>", "instance id or name")
        .argument(`<${kind.name}>`, `${kind.name} id or name`),
      async (ctx) => {
        const [instance, ref] = ctx.args as [string, string];
        const [id, holder] = await Promise.all([instanceId(ctx, instance), kind.resolve(ctx, ref)]);
        await ctx.client.request("DELETE", `/servers/${enc(id)}/${kind.plural}/${enc(holder)}`);
        done(ctx, `unassigned ${kind.name} ${ref} from instance ${instance}`);
      },
      { prints: false },
    );
  }
  return unassign;
}

export function userServersCommand(): Command {
  return action(
    group("user-servers", "instances assigned to a user directly (GET /users/{id}/servers/)").argument(
      "<user>",
      "user id or name",
    ),
    async (ctx) => {
      const user = await userId(ctx, ctx.args[0]);
      const reply = await ctx.client.request("GET", `/users/${enc(user)}/servers/`);
      printList(ctx, reply, reply.body.servers, [
        { header: "Instance", value: "instance_id" },
        { header: "Pool", value: "project_id" },
        { header: "Pool Name", value: "project_name" },
      ]);
    },
  );
}
