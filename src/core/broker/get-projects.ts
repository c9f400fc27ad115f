// get-projects: the names of the TRS pools the user (by password) has a role on, sorted.
import type { PasswordCredentials } from "../broker-auth.ts";
import { type BrokerContext, trsPoolsOf } from "./context.ts";

export async function getProjects(ctx: BrokerContext, c: PasswordCredentials): Promise<string[]> {
  const identity = await ctx.auth.withPassword(c);
  return (await trsPoolsOf(ctx, identity)).map((p) => p.name).sort();
}
