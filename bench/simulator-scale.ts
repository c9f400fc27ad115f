// Simulator scale: one batched request for 1,000 servers until all are ACTIVE, and listing
// 10,000 servers of one project, through rs-server's own Nova client over HTTP.
// Run: npx tsx bench/simulator-scale.ts [batch=1000] [total=10000]
import { createCloud } from "../src/cloud/cloud.ts";
import { CloudSession } from "../src/cloud/session.ts";
import { startSimulator } from "../src/simulator/server.ts";

const batch = Number(process.argv[2] ?? 1000);
const total = Number(process.argv[3] ?? 10000);
const sim = await startSimulator({ port: 0, options: { buildDelayMs: 1000 } });
try {
  const session = new CloudSession({
    authUrl: sim.authUrl,
    username: sim.admin.username,
    password: sim.admin.password,
    userDomainName: sim.admin.userDomainName,
    projectName: sim.admin.projectName,
    projectDomainName: sim.admin.projectDomainName,
    interface: "public",
    timeoutMs: 60000,
    retries: 0,
  });
  const { nova } = createCloud(session);
  // Room for the run: the simulator enforces Nova's quotas like Nova does.
  await nova.setQuotas(sim.admin.projectId, {
    instances: total + batch,
    cores: (total + batch) * 4,
    ram: (total + batch) * 8192,
  });
  const base = {
    flavorId: sim.seed.flavorId,
    imageId: sim.seed.imageId,
    networkIds: [sim.seed.networkId],
    tags: ["trs"],
  };

  let t = performance.now();
  const created = await nova.createServers({ ...base, name: "bench", minCount: batch, maxCount: batch });
  const requestMs = performance.now() - t;
  let polls = 0;
  for (;;) {
    polls++;
    const servers = await nova.listServers({ reservationId: created.reservationId });
    if (servers.length === batch && servers.every((s) => s.status === "ACTIVE")) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const activeMs = performance.now() - t;

  const rest = total - batch;
  for (let made = 0; made < rest; made += 1000) {
    const n = Math.min(1000, rest - made);
    await nova.createServers({ ...base, name: `fill-${made}`, minCount: n, maxCount: n });
  }
  const lists: number[] = [];
  let count = 0;
  for (let i = 0; i < 5; i++) {
    t = performance.now();
    count = (await nova.listServers({ projectId: sim.admin.projectId })).length;
    lists.push(performance.now() - t);
  }
  lists.sort((a, b) => a - b);
  console.log(
    JSON.stringify(
      {
        batch,
        create_request_ms: Math.round(requestMs),
        all_active_ms: Math.round(activeMs),
        build_delay_ms: 1000,
        polls,
        listed: count,
        list_ms_median: Math.round(lists[2]),
        list_ms_min: Math.round(lists[0]),
      },
      null,
      2,
    ),
  );
} finally {
  await sim.stop();
}
