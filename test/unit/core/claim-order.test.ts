// Which instance a user gets (core/claims.ts), on a fake holder repository: the user's own
// instance first, then a group's, then a free one (ACTIVE before BUILD), then in Simultaneous
// pools a shared one; a race met outside the claim protocol is tried again, a few times only.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ClaimRequest, ClaimService } from "../../../src/core/claims.ts";
import type { ClaimOptions, InstanceRow } from "../../../src/store/holders.ts";
import { instance, uniqueViolation } from "./fakes.ts";

function holders(
  o: {
    held?: InstanceRow[];
    groupInstances?: boolean;
    answer?: (c: ClaimOptions, attempt: number) => InstanceRow | undefined;
  } = {},
) {
  const claims: ClaimOptions[] = [];
  return {
    claims,
    repo: {
      heldBy: async () => o.held ?? [],
      poolHasGroupInstances: async () => o.groupInstances ?? false,
      claim: async (c: ClaimOptions) => {
        claims.push(c);
        return o.answer?.(c, claims.length);
      },
      release: async () => {},
    },
  };
}

function request(overrides: Partial<ClaimRequest> = {}): ClaimRequest & { groupLookups: number } {
  const r = {
    poolId: "pool-1",
    operationMode: "1",
    userId: "alice",
    groupLookups: 0,
    groupIds: async () => {
      r.groupLookups++;
      return ["g1"];
    },
    actor: "test",
    reason: "test",
    ...overrides,
  };
  return r;
}

describe("claim order", () => {
  it("the user's own usable instance comes first, without a claim or a group lookup", async () => {
    const h = holders({ held: [instance({ id: "mine", status: "BUILD" })], groupInstances: true });
    const r = request();
    const got = await new ClaimService(h.repo).claim(r);
    assert.equal(got?.instance.id, "mine");
    assert.equal(got?.source, "assigned");
    assert.equal(got?.claimedNow, false);
    assert.equal(h.claims.length, 0);
    assert.equal(r.groupLookups, 0);
  });

  it("an own instance in ERROR or excluded by the run does not count: the claim goes on", async () => {
    const h = holders({ held: [instance({ id: "broken", status: "ERROR" }), instance({ id: "tried" })] });
    const got = await new ClaimService(h.repo).claim(request({ exclude: ["tried"] }));
    assert.equal(got, undefined);
    assert.deepEqual(
      h.claims.map((c) => c.kind),
      ["group", "free"],
    );
  });

  it("Standard: a group's ACTIVE instance, then a free one ACTIVE before BUILD; never a shared one", async () => {
    const h = holders({ groupInstances: true });
    const r = request();
    assert.equal(await new ClaimService(h.repo).claim(r), undefined);
    assert.deepEqual(
      h.claims.map((c) => [c.kind, c.statuses]),
      [
        ["group", ["ACTIVE"]],
        ["free", ["ACTIVE", "BUILD"]],
      ],
    );
    assert.deepEqual(h.claims[0].groupIds, ["g1"]);
    assert.equal(r.groupLookups, 1);
  });

  it("Simultaneous: a shared instance is the last resort", async () => {
    const h = holders({ answer: (c) => (c.kind === "shared" ? instance({ id: "busy" }) : undefined) });
    const got = await new ClaimService(h.repo).claim(request({ operationMode: "2" }));
    assert.deepEqual(
      h.claims.map((c) => c.kind),
      ["group", "free", "shared"],
    );
    assert.equal(got?.source, "shared");
    assert.equal(got?.claimedNow, true);
  });

  it("Keystone is not asked for the user's groups when the pool has no group instance", async () => {
    const h = holders({ groupInstances: false, answer: (c) => (c.kind === "free" ? instance() : undefined) });
    const r = request();
    const got = await new ClaimService(h.repo).claim(r);
    assert.equal(r.groupLookups, 0);
    assert.deepEqual(h.claims[0].groupIds, []);
    assert.equal(got?.source, "free");
  });

  it("a unique violation (a holder slipped in) is tried again, at most three more times", async () => {
    let tries = 0;
    const retried = holders({
      answer: (c) => {
        if (c.kind !== "group") return undefined;
        tries++;
        if (tries < 3) throw uniqueViolation();
        return instance({ id: "won" });
      },
    });
    assert.equal((await new ClaimService(retried.repo).claim(request()))?.instance.id, "won");

    const hopeless = holders({
      answer: () => {
        throw uniqueViolation();
      },
    });
    await assert.rejects(new ClaimService(hopeless.repo).claim(request()), { code: "23505" });
    assert.equal(hopeless.claims.length, 4);

    const other = holders({
      answer: () => {
        throw new Error("connection lost");
      },
    });
    await assert.rejects(new ClaimService(other.repo).claim(request()), /connection lost/);
    assert.equal(other.claims.length, 1, "anything but a unique violation is not retried");
  });
});
