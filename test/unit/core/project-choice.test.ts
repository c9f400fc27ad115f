// Which TRS pool a request-vm goes to (core/broker/choose-pool.ts), on a fake Keystone and
// fake pool and holder records: the named project, else the user's only pool, else the one
// where the user holds a desktop, else the first by name; each refusal with its broker code.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CloudError } from "../../../src/cloud/http.ts";
import type { KsProject } from "../../../src/cloud/keystone-types.ts";
import { choosePool } from "../../../src/core/broker/choose-pool.ts";
import { type BrokerContext, UserDirectoryCache } from "../../../src/core/broker/context.ts";
import type { BrokerIdentity } from "../../../src/core/broker-auth.ts";
import { BrokerCode } from "../../../src/core/broker-error.ts";
import type { Pool } from "../../../src/store/pools.ts";
import { instance, pool, silent } from "./fakes.ts";

const alice: BrokerIdentity = {
  token: "t",
  userId: "alice",
  userName: "alice",
  domainId: "default",
  domainName: "Default",
  passwordExpiresAt: null,
};

const project = (id: string, name: string, o: Partial<KsProject> = {}): KsProject => ({
  id,
  name,
  domainId: "default",
  description: "",
  enabled: true,
  parentId: null,
  tags: ["trs"],
  ...o,
});

function context(o: {
  projects: KsProject[];
  pools: Pool[];
  holding?: string[];
  domains?: Record<string, string>;
  keystoneDown?: boolean;
}): BrokerContext {
  const down = () => {
    if (o.keystoneDown) throw new CloudError("unavailable", "Keystone is down", "identity");
  };
  const domains = o.domains ?? { Default: "default" };
  const keystone = {
    async listUserProjects() {
      down();
      return o.projects;
    },
    async findDomainByName(name: string) {
      down();
      return domains[name] ? { id: domains[name], name } : undefined;
    },
    findProject: async (name: string, domainId: string) =>
      o.projects.find((p) => p.name === name && p.domainId === domainId),
  };
  const pools = {
    byIds: async (ids: string[]) => o.pools.filter((p) => ids.includes(p.id)),
    get: async (id: string) => o.pools.find((p) => p.id === id),
  };
  const holders = {
    heldBy: async (poolId: string) => (o.holding?.includes(poolId) ? [instance({ pool_id: poolId })] : []),
  };
  return {
    deps: { cloud: { keystone }, repos: { pools, holders } },
    log: silent,
    // Not kept (auth.userCacheSeconds 0): every choice asks the fake Keystone.
    users: new UserDirectoryCache(
      () => keystone.listUserProjects(),
      async () => [],
      0,
    ),
  } as unknown as BrokerContext;
}

const code = (c: number) => (err: unknown) => (err as { code?: number }).code === c;

describe("project choice", () => {
  const a = pool({ id: "a", name: "alpha" });
  const b = pool({ id: "b", name: "beta" });
  const c = pool({ id: "c", name: "gamma" });
  const projects = [project("c", "gamma"), project("b", "beta"), project("a", "alpha")];

  it("the user's only TRS pool, ignoring projects that are not pools and disabled ones", async () => {
    const ctx = context({
      projects: [project("b", "beta"), project("x", "not-a-pool"), project("a", "alpha", { enabled: false })],
      pools: [a, b],
    });
    assert.equal((await choosePool(ctx, alice, {})).id, "b");
  });

  it("no TRS pool at all is code 5", async () => {
    const ctx = context({ projects: [project("x", "other")], pools: [a] });
    await assert.rejects(choosePool(ctx, alice, {}), code(BrokerCode.NoTrsProject));
  });

  it("several pools: the one where the user already holds a desktop, else the first by name", async () => {
    assert.equal(
      (await choosePool(context({ projects, pools: [c, b, a], holding: ["c"] }), alice, {})).id,
      "c",
    );
    assert.equal((await choosePool(context({ projects, pools: [c, b, a] }), alice, {})).id, "a");
  });

  it("auth_tenant names the pool: it must be a TRS pool (8) the user has a role on (5)", async () => {
    const ctx = context({ projects, pools: [a, b] });
    assert.equal((await choosePool(ctx, alice, { authTenant: "beta" })).id, "b");
    await assert.rejects(choosePool(ctx, alice, { authTenant: "gamma" }), code(BrokerCode.NotTrsProject));
    await assert.rejects(choosePool(ctx, alice, { authTenant: "nowhere" }), code(BrokerCode.NotTrsProject));
    // beta exists and is a pool, but Keystone lists no role of alice on it.
    const noRole = context({ projects: [project("a", "alpha")], pools: [a, b] });
    const beta = project("b", "beta");
    (noRole.deps.cloud.keystone as unknown as { findProject: unknown }).findProject = async () => beta;
    await assert.rejects(choosePool(noRole, alice, { authTenant: "beta" }), code(BrokerCode.NoTrsProject));
  });

  it("an unknown project domain is code 15; Keystone unreachable is code 21", async () => {
    const ctx = context({ projects, pools: [a] });
    await assert.rejects(
      choosePool(ctx, alice, { projectDomainName: "Nowhere" }),
      code(BrokerCode.DomainNotFound),
    );
    await assert.rejects(
      choosePool(context({ projects, pools: [a], keystoneDown: true }), alice, {}),
      code(BrokerCode.KeystoneUnavailable),
    );
  });

  it("project_domain_name keeps only the pools of that domain", async () => {
    const ctx = context({
      projects: [project("a", "alpha"), project("b", "beta", { domainId: "lab" })],
      pools: [a, b],
      domains: { Default: "default", Lab: "lab" },
    });
    assert.equal((await choosePool(ctx, alice, { projectDomainName: "Lab" })).id, "b");
  });
});
