// The web desktop's gateway: how long a browser waits from asking for a console ticket to the
// desktop's first byte (ticket issued, redeemed, session recorded, TCP connected), and how
// many bytes a second it carries from the desktop to the browser (a screen update stream).
// Everything real: embedded PostgreSQL, the simulator (instances on a loopback range), the
// broker; a TCP server on the desktop's address stands in for its VNC server.
// Run: npm run bench -- console-gateway [connections=50] [megabytes=256]
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { WebSocket } from "ws";
import { loadConfig } from "../src/config/load.ts";
import { startRuntime } from "../src/runtime.ts";

const N = Number(process.argv[2] ?? 50);
const MB = Number(process.argv[3] ?? 256);
const dataDir = mkdtempSync(join(tmpdir(), "rs-bench-console-"));
const config = loadConfig({
  env: {},
  overrides: {
    dataDir,
    admin: { enabled: false },
    broker: { port: 0 },
    simulator: { buildDelayMs: 200, instanceCidr: "127.0.102.0/24" },
    allocation: { pollIntervalMs: 50 },
    console: { maxConnectionsPerUser: 1000 },
  },
});
const runtime = await startRuntime(config, { logger: pino({ level: "silent" }) });
const sim = runtime.simulator!;
const { keystone } = runtime.deps.cloud;

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${runtime.brokerUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { headers: res.headers, body: (await res.json()) as any };
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

try {
  const port = 25099;
  const pool = await runtime.core.pools.create({
    name: `bench-${randomBytes(3).toString("hex")}`,
    flavor_id: sim.seed.flavorId,
    image_id: sim.seed.imageId,
    network_id: sim.seed.networkId,
    console_port: port,
  });
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const user = await keystone.createUser({
    name: `bench-${randomBytes(3).toString("hex")}`,
    domainId: "default",
    password,
  });
  const member = await keystone.findRole("member");
  await keystone.grantProjectRole(pool.id, { userId: user.id }, member!.id);
  const started = await post("/v1/request-vm/", { user: user.name, password, conn_type: "web" });
  const token = started.headers.get("x-auth-token")!;
  const requestId = started.body.request_id;
  let ip = "";
  for (let i = 0; i < 600 && !ip; i++) {
    const state = await post("/v1/get-vm/", { request: requestId }, { Authorization: `Bearer ${token}` });
    if (state.body.status === "completed") ip = state.body.server.ip;
    else await new Promise((r) => setTimeout(r, 50));
  }
  // The desktop: greets each connection; on "stream" sends MB megabytes.
  let streamBytes = 0;
  const chunk = Buffer.alloc(64 * 1024, 1);
  const desktop = createServer((socket) => {
    socket.write("RFB 003.008\n");
    socket.on("data", (d) => {
      if (String(d) !== "stream") return;
      let left = MB * 1024 * 1024;
      const pump = () => {
        while (left > 0) {
          left -= chunk.length;
          if (!socket.write(chunk)) return void socket.once("drain", pump);
        }
        socket.end();
      };
      pump();
    });
  }).listen(port, ip);
  await new Promise((r) => desktop.once("listening", r));
  const origin = new URL(runtime.brokerUrl!).origin;
  const wsBase = runtime.brokerUrl!.replace(/^http/, "ws");

  async function connect(): Promise<{ ws: WebSocket; ms: number }> {
    const t0 = performance.now();
    const ticket = await post(
      "/v1/console-ticket/",
      { request: requestId },
      { Authorization: `Bearer ${token}` },
    );
    const ws = new WebSocket(`${wsBase}${ticket.body.path}`, { headers: { Origin: origin } });
    await new Promise((resolve, reject) => {
      ws.once("message", resolve);
      ws.once("error", reject);
    });
    return { ws, ms: performance.now() - t0 };
  }

  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const { ws, ms } = await connect();
    times.push(ms);
    ws.close();
    await new Promise((r) => ws.once("close", r));
  }
  times.sort((a, b) => a - b);

  const { ws } = await connect();
  const t0 = performance.now();
  ws.on("message", (d: Buffer) => {
    streamBytes += d.length;
  });
  ws.send("stream");
  await new Promise((r) => ws.once("close", r));
  const seconds = (performance.now() - t0) / 1000;

  console.log(
    `machine: ${cpus().length} CPUs, ${process.version}, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  console.log(
    `ticket → first desktop byte over ${N} connections: p50 ${quantile(times, 0.5).toFixed(1)} ms, ` +
      `p95 ${quantile(times, 0.95).toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`,
  );
  console.log(
    `desktop → browser: ${(streamBytes / 1024 / 1024).toFixed(0)} MB in ${seconds.toFixed(2)} s = ` +
      `${(streamBytes / 1024 / 1024 / seconds).toFixed(0)} MB/s`,
  );
  desktop.close();
} finally {
  await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
