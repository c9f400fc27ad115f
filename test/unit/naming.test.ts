// Instance names (spec §4) and how a batch's names are matched to what Nova called its servers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { forEachLimited } from "../../src/core/limited.ts";
import { batchName, explicitNames, nameFromPattern, namesForBatch } from "../../src/core/naming.ts";

describe("instance names", () => {
  it("a run of * is the zero-padded counter, growing past its length; no * appends -N", () => {
    assert.equal(nameFromPattern("trs-**", 7), "trs-07");
    assert.equal(nameFromPattern("trs-**", 100), "trs-100");
    assert.equal(nameFromPattern("desk", 3), "desk-3");
    assert.deepEqual(explicitNames("lab", 3), ["lab-1", "lab-2", "lab-3"]);
  });

  it("a batch is given the name Nova turns into the names we want, when there is one", () => {
    assert.equal(batchName(["lab-1", "lab-2", "lab-3"]), "lab");
    assert.equal(batchName(["a-b-1", "a-b-2"]), "a-b");
    assert.equal(batchName(["trs-07", "trs-08"]), "trs-07");
    assert.equal(batchName(["desk-2", "desk-3"]), "desk-2");
  });

  it("servers Nova already named right keep their names, whatever order Nova lists them in", () => {
    const names = ["lab-1", "lab-2", "lab-3"];
    const servers = [
      { id: "c", name: "lab-3" },
      { id: "a", name: "lab-1" },
      { id: "b", name: "lab-2" },
    ];
    const wanted = namesForBatch("lab", servers, names);
    assert.deepEqual(Object.fromEntries(wanted), { a: "lab-1", b: "lab-2", c: "lab-3" });
  });

  it("the n-th server Nova made gets the n-th name; unnumbered ones take what is left", () => {
    const names = ["trs-07", "trs-08", "trs-09"];
    const servers = [
      { id: "y", name: "trs-07-2" },
      { id: "z", name: "renamed by someone" },
      { id: "x", name: "trs-07-1" },
    ];
    const wanted = namesForBatch("trs-07", servers, names);
    assert.deepEqual(Object.fromEntries(wanted), { x: "trs-07", y: "trs-08", z: "trs-09" });
  });
});

describe("forEachLimited", () => {
  it("does every item once with no more than the limit in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    await forEachLimited(
      Array.from({ length: 50 }, (_, i) => i),
      4,
      async (item) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, item % 3));
        done.push(item);
        inFlight--;
      },
    );
    assert.equal(most, 4);
    assert.deepEqual(
      done.sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  it("an empty list does nothing", async () => {
    await forEachLimited([], 8, async () => assert.fail("called"));
  });
});
