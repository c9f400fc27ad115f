// `rs-server pools drain|undrain|rollout ...` and `rs-server instances drain|undrain` as an
// operator runs them (a child process against a real stack).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type api, makePool, makeServers, useAdminStack } from "../admin/api.ts";
import type { Stack } from "../helpers/stack.ts";
import { adminEnv, failed, json, ok, runCli } from "./run.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const cli = (args: string[]) => runCli(args, adminEnv(stack));

describe("rs-server drain and roll-out", () => {
  test("pools drain / undrain and instances drain / undrain", async () => {
    const pool = await makePool(call, stack);
    const drained = json(await cli(["pools", "drain", pool, "--reason", "maintenance", "--json"]));
    assert.equal(drained.project.draining, true);
    assert.equal(drained.project.drain_reason, "maintenance");
    assert.match(ok(await cli(["pools", "list"])), new RegExp(`${pool} .*\\| draining`));
    const listed = json(await cli(["pools", "list", "--filter", "draining=true", "--json"]));
    assert.ok(listed.projects.some((p: { id: string }) => p.id === pool));
    assert.equal(json(await cli(["pools", "undrain", pool, "--json"])).project.draining, false);

    const [server] = await makeServers(call, pool);
    assert.equal(json(await cli(["instances", "drain", server, "--json"])).server.draining, true);
    assert.equal(json(await cli(["instances", "undrain", server, "--json"])).server.draining, false);
    failed(await cli(["pools", "drain", "no-such-pool"]), 1, /no pool named no-such-pool/);
  });

  test("pools rollout start, pause, resume, show, rollback", async () => {
    const pool = await makePool(call, stack);
    await makeServers(call, pool, { count: 2 });
    const image = await fetch(`${stack.sim.url}/sim/images`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Auth-Token": stack.adminToken },
      body: JSON.stringify({ name: "golden-cli" }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const started = json(
      await cli(["pools", "rollout", "start", pool, "--image", image.id, "--batch-size", "1", "--json"]),
    );
    assert.equal(started.rollout.state, "running");
    assert.equal(started.rollout.old, 2);
    assert.equal(json(await cli(["pools", "rollout", "pause", pool, "--json"])).rollout.state, "paused");
    assert.equal(json(await cli(["pools", "rollout", "resume", pool, "--json"])).rollout.state, "running");
    assert.match(ok(await cli(["pools", "rollout", "show", pool])), /started: from image/);
    const back = json(await cli(["pools", "rollout", "rollback", pool, "--json"]));
    assert.equal(back.rollout.to_image_id, stack.sim.seed.imageId);
    failed(
      await cli(["pools", "rollout", "start", pool, "--image", image.id, "--deadline", "soon"]),
      2,
      /ISO 8601/,
    );
  });
});
