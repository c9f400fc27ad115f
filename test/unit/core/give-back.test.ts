// Giving back (core/allocation/give-back.ts): the instance a run claimed goes back only when
// its request will not get it — another run ended the request without it, or the task was
// revoked; while the request is open another run is on it and finds the hold as the user's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AllocationDeps } from "../../../src/core/allocation/deps.ts";
import { giveBack } from "../../../src/core/allocation/give-back.ts";
import { silent } from "./fakes.ts";

function deps(
  row: { status: string; instance_id?: string | null; task_id?: string | null } | undefined,
  revoked = false,
) {
  const released: { instanceId: string; userId: string; reason: string }[] = [];
  const d = {
    requests: { get: async () => row && { instance_id: null, task_id: "task-1", ...row } },
    claims: {
      release: async (instanceId: string, userId: string, _actor: string, reason: string) => {
        released.push({ instanceId, userId, reason });
      },
    },
    taskRevoked: async () => revoked,
    logger: silent,
  } as unknown as Pick<AllocationDeps, "requests" | "claims" | "taskRevoked" | "logger">;
  return { d, released };
}

describe("give-back", () => {
  it("nothing claimed, or no such request: nothing to give back", async () => {
    const a = deps({ status: "failed" });
    await giveBack(a.d, "req-1", "alice", undefined);
    const b = deps(undefined);
    await giveBack(b.d, "req-1", "alice", "vm-1");
    assert.deepEqual([...a.released, ...b.released], []);
  });

  it("an open request keeps the hold: the run that goes on finds it as the user's own", async () => {
    for (const status of ["pending", "running"]) {
      const { d, released } = deps({ status });
      await giveBack(d, "req-1", "alice", "vm-1");
      assert.deepEqual(released, [], status);
    }
  });

  it("an open request whose task was revoked gives it back: no run will come", async () => {
    const { d, released } = deps({ status: "running" }, true);
    await giveBack(d, "req-1", "alice", "vm-1");
    assert.deepEqual(released, [
      { instanceId: "vm-1", userId: "alice", reason: "broker request req-1 was revoked" },
    ]);
  });

  it("a request completed with this very instance keeps it; with another one, or failed, gives it back", async () => {
    const same = deps({ status: "completed", instance_id: "vm-1" });
    await giveBack(same.d, "req-1", "alice", "vm-1");
    assert.deepEqual(same.released, []);

    const other = deps({ status: "completed", instance_id: "vm-2" });
    await giveBack(other.d, "req-1", "alice", "vm-1");
    const failed = deps({ status: "failed" });
    await giveBack(failed.d, "req-1", "alice", "vm-1");
    assert.deepEqual(
      [...other.released, ...failed.released].map((r) => r.reason),
      ["broker request req-1 ended in another run", "broker request req-1 ended in another run"],
    );
  });
});
