// Which TRS pool a request-vm goes to: the one named (auth_tenant, in the user's domain or
// project_domain_name), which the user must have a role on; else the user's only pool; else,
// among several, the one where the user already holds a desktop, else the first by name that
// is not draining (core/drain.ts).
import type { Pool } from "../../store/pools.ts";
import type { BrokerIdentity } from "../broker-auth.ts";
import { BrokerCode, BrokerError } from "../broker-error.ts";
import { type BrokerContext, directory, trsPoolsOf } from "./context.ts";
import type { RequestVmInput } from "./request-vm.ts";

export async function choosePool(
  ctx: BrokerContext,
  identity: BrokerIdentity,
  input: Pick<RequestVmInput, "authTenant" | "projectDomainName">,
): Promise<Pool> {
  const keystone = ctx.deps.cloud.keystone;
  const { pools, holders } = ctx.deps.repos;
  if (input.authTenant) {
    const domainName = input.projectDomainName ?? identity.domainName;
    const domain = await directory(() => keystone.findDomainByName(domainName));
    if (!domain) throw new BrokerError(BrokerCode.DomainNotFound, { domain_name: domainName });
    const project = await directory(() => keystone.findProject(input.authTenant!, domain.id));
    const pool = project && (await pools.get(project.id));
    if (!project || !pool)
      throw new BrokerError(BrokerCode.NotTrsProject, { project_name: input.authTenant });
    const mine = await trsPoolsOf(ctx, identity);
    if (!project.enabled || !mine.some((p) => p.id === pool.id)) {
      throw new BrokerError(BrokerCode.NoTrsProject, {}, `the user has no role on TRS project ${pool.name}`);
    }
    return pool;
  }
  const mine = await trsPoolsOf(ctx, identity, input.projectDomainName);
  if (mine.length === 0)
    throw new BrokerError(BrokerCode.NoTrsProject, {}, "the user has a role on no TRS project");
  if (mine.length === 1) return mine[0];
  // Several pools: the one where the user already has a desktop, else the first by name that
  // is not draining (all draining: the first, whose allocation answers 14 with the reason).
  for (const pool of mine) {
    if ((await holders.heldBy(pool.id, identity.userId)).length) return pool;
  }
  const byName = [...mine].sort((a, b) => a.name.localeCompare(b.name));
  return byName.find((p) => !p.draining) ?? byName[0];
}
