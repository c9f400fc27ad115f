// `rs-server users search` and `rs-server groups search`: Keystone users and groups found
// through the admin API's directory (GET /directory/users|groups?name__contains=…), to see who
// a name means before assigning or granting access.
import type { Command } from "commander";
import { action, group, printList } from "./command.ts";

const columns = [
  { header: "ID", value: "id" },
  { header: "Name", value: "name" },
  { header: "Domain ID", value: "domain_id" },
  { header: "Domain", value: "domain_name" },
];

function directoryCommand(plural: "users" | "groups"): Command {
  const cmd = group(plural, `Keystone ${plural} (through the admin API's directory)`);
  action(
    cmd
      .command("search")
      .description(`${plural} whose name contains the text, at most 50, by name (GET /directory/${plural})`)
      .argument("[text]", "part of the name (none: the first 50)")
      .option("--name <name>", "exactly this name")
      .option("--domain <id>", "only this domain (domain_id)"),
    async (ctx) => {
      const query = { name__contains: ctx.args[0], name: ctx.opts.name, domain_id: ctx.opts.domain };
      const reply = await ctx.client.request("GET", `/directory/${plural}`, { query });
      printList(ctx, reply, reply.body[plural], columns);
    },
  );
  return cmd;
}

export const usersCommand = () => directoryCommand("users");
export const groupsCommand = () => directoryCommand("groups");
