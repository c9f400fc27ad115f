// One build at a time per user (migration 098), at the store's statement boundaries. The turn's
// check reads "does the user hold an instance?" and then "does another request of theirs have
// the turn?" as two statements. The other request's instance recorded with its holder
// (insertHeld, which also ends its turn) landing between the two once made both answers "no",
// and the user got a second desktop built (seen in CI: 2 desktops for 20 parallel requests).
// The test lands it exactly there, through a plugin that runs it after the first read.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult } from "kysely";
import type { Store } from "../../src/store/db.ts";
import { HolderRepository } from "../../src/store/holders.ts";
import { createTestStore, insertTestPool } from "../helpers/db.ts";

let store: Store;
before(async () => {
  store = await createTestStore();
  await insertTestPool(store.db, "p1", "img");
  for (const id of ["rA", "rB", "rC", "rD"])
    await store.db
      .insertInto("requests")
      .values({
        id,
        user_id: id === "rC" || id === "rD" ? "u2" : "u1",
        project_id: "p1",
        status: "in_progress",
        steps: JSON.stringify([]),
      } as never)
      .execute();
});
after(() => store.close());

/**
 * A plugin running `between` once, right after the first read of the user's held instance
 * (instances joined with instance_users) answers, before the next statement. `between` is
 * given at most `patienceMs`: with the fix it waits for the lock this transaction holds.
 */
class AfterHeldRead implements KyselyPlugin {
  private readonly heldReads = new Set<unknown>();
  private fired = false;
  done: Promise<unknown> = Promise.resolve();
  constructor(
    private readonly between: () => Promise<unknown>,
    private readonly patienceMs: number,
  ) {}
  transformQuery(args: PluginTransformQueryArgs) {
    const node = args.node as {
      kind: string;
      from?: { froms: { table?: { identifier?: { name: string } } }[] };
      joins?: unknown[];
    };
    if (
      node.kind === "SelectQueryNode" &&
      node.joins?.length &&
      JSON.stringify(node.from).includes('"instances"')
    )
      this.heldReads.add(args.queryId);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<any>> {
    if (!this.fired && this.heldReads.has(args.queryId)) {
      this.fired = true;
      this.done = this.between();
      this.done.catch(() => {});
      await Promise.race([this.done, new Promise((r) => setTimeout(r, this.patienceMs))]);
    }
    return args.result;
  }
}

const instance = (id: string) => ({
  id,
  poolId: "p1",
  name: id,
  status: "BUILD",
  reservationId: "r",
  imageId: "img",
});

test("a build turn taken as another request of the user records its instance is not a second build", async () => {
  const other = new HolderRepository(store.db);
  assert.equal(await other.takeBuildTurn("p1", "u1", "rA", 60), "ours");
  // Request B looks for its turn; request A's instance is recorded between B's two reads.
  const plugin = new AfterHeldRead(
    () => other.insertHeld(instance("iA"), "u1", true, "test", "created for rA"),
    500,
  );
  const b = new HolderRepository(store.db.withPlugin(plugin));
  const turn = await b.takeBuildTurn("p1", "u1", "rB", 60);
  await plugin.done;
  assert.notEqual(turn, "ours", "request B would build a second desktop");
  // And once A's instance is recorded, B finds it as the user's.
  assert.equal(await b.takeBuildTurn("p1", "u1", "rB", 60), "held");
});

test("a claim made as another request of the user records its instance answers that instance", async () => {
  // A free instance B could claim instead of waiting for A's.
  await store.db
    .insertInto("instances")
    .values({
      id: "free1",
      pool_id: "p1",
      name: "free1",
      status: "ACTIVE",
      fixed_ip: "10.0.0.9",
      ready_at: new Date(0),
    })
    .execute();
  const other = new HolderRepository(store.db);
  assert.equal(await other.takeBuildTurn("p1", "u2", "rC", 60), "ours");
  const plugin = new AfterHeldRead(
    () => other.insertHeld(instance("iC"), "u2", true, "test", "created for rC"),
    500,
  );
  const b = new HolderRepository(store.db.withPlugin(plugin));
  const claimed = await b.claim({
    kind: "free",
    poolId: "p1",
    userId: "u2",
    statuses: ["ACTIVE"],
    actor: "test",
    reason: "rD",
    requestId: "rD",
  });
  await plugin.done;
  assert.notEqual(claimed?.id, "free1", "request D claimed a second desktop while C's was being recorded");
  const held = await store.db
    .selectFrom("instance_users")
    .select("instance_id")
    .where("user_id", "=", "u2")
    .execute();
  assert.deepEqual(
    held.map((h) => h.instance_id),
    ["iC"],
  );
});
