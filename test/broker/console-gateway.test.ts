// The web desktop's gateway, with a WebSocket client and TCP listeners standing in for the
// desktops' VNC servers on the simulator's loopback instance addresses: a ticket connects its
// owner to the one address and port it was bound to, once; another user's request, a replayed,
// expired or unknown ticket, a forged host or port, a foreign or missing Origin and a user over
// the connection limit are refused before anything is connected. Each connection is a web
// session, closed when the socket ends.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import {
  broker,
  call,
  finished,
  makePool,
  makeUser,
  requestVm,
  type TestUser,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

/** The simulator's instances answer on this loopback range (127.0.100.1 is the gateway). */
const INSTANCE_CIDR = "127.0.100.0/24";

/** A TCP listener standing in for a VNC server: greets like one and keeps what it is sent. */
class FakeDesktop {
  connections = 0;
  received = Buffer.alloc(0);
  private readonly sockets = new Set<Socket>();
  private constructor(readonly server: Server) {}

  static async listen(host: string, port = 0): Promise<FakeDesktop> {
    const server = createServer();
    const desktop = new FakeDesktop(server);
    server.on("connection", (socket) => {
      desktop.connections++;
      desktop.sockets.add(socket);
      socket.on("close", () => desktop.sockets.delete(socket));
      socket.on("data", (d) => {
        desktop.received = Buffer.concat([desktop.received, d]);
      });
      socket.write("RFB 003.008\n");
    });
    server.listen(port, host);
    await once(server, "listening");
    return desktop;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  open(): number {
    return this.sockets.size;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

type Opened = { ws: WebSocket; greeting: Buffer } | { status: number };

/** Opens the gateway; answers the open socket and the first bytes, or the refusal's status. */
function openGateway(url: string, origin: string | undefined): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: origin ? { Origin: origin } : {} });
    ws.once("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once("message", (data) => resolve({ ws, greeting: data as Buffer }));
    ws.once("error", (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

describe("console gateway", () => {
  let s: Stack;
  let poolId: string;
  let vncPort: number;
  let alice: TestUser;
  let bob: TestUser;
  let aliceReq: { requestId: string; token: string };
  let aliceIp: string;
  let desktop: FakeDesktop;
  let decoy: FakeDesktop;
  let origin: string;
  let gatewayUrl: string;

  const ticketFor = (token: string, request: string, body: Record<string, unknown> = {}) =>
    broker(s, "/v1/console-ticket/", { request, ...body }, { Authorization: `Bearer ${token}` });

  async function ticket(): Promise<string> {
    const res = await ticketFor(aliceReq.token, aliceReq.requestId, { os: "Linux", client: "test 1.0" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.kind, "gateway");
    return res.body.ticket;
  }

  const webSessions = async (requestId: string) =>
    s.runtime.store.db
      .selectFrom("sessions")
      .selectAll()
      .where("request_id", "=", requestId)
      .where("client_info", "=", "test 1.0")
      .orderBy("created_at")
      .execute();

  async function waitFor(what: string, check: () => Promise<boolean> | boolean) {
    for (let i = 0; i < 400; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  before(async () => {
    // The desktops' VNC port is found first (a free port), then given to the pool.
    const probe = await FakeDesktop.listen("127.0.0.1");
    vncPort = probe.port;
    await probe.close();
    s = await startStack({ console: { maxConnectionsPerUser: 1 } }, { sim: { instanceCidr: INSTANCE_CIDR } });
    ({ id: poolId } = await makePool(s, { console_port: vncPort }));
    alice = await makeUser(s, [poolId]);
    bob = await makeUser(s, [poolId]);
    aliceReq = await requestVm(s, alice, { conn_type: "web" });
    const done = await finished(s, aliceReq.token, aliceReq.requestId);
    assert.equal(done.body.status, "completed", JSON.stringify(done.body));
    aliceIp = done.body.server.ip;
    assert.match(aliceIp, /^127\.0\.100\.\d+$/);
    desktop = await FakeDesktop.listen(aliceIp, vncPort);
    // Another address in the instances' range, as if another desktop: nothing may reach it.
    decoy = await FakeDesktop.listen("127.0.100.250", vncPort);
    origin = new URL(s.brokerUrl).origin;
    gatewayUrl = `${s.brokerUrl.replace(/^http/, "ws")}/v1/console-gateway`;
  });

  after(async () => {
    await desktop?.close();
    await decoy?.close();
    await s?.stop();
  });

  test("a ticket connects its owner to their desktop's VNC port, and the connection is a web session", async () => {
    const t = await ticket();
    const opened = await openGateway(`${gatewayUrl}?ticket=${t}`, origin);
    assert.ok("ws" in opened, JSON.stringify(opened));
    assert.equal(opened.greeting.toString(), "RFB 003.008\n");
    opened.ws.send(Buffer.from("RFB 003.008\n"));
    await waitFor("the desktop to receive the client's bytes", () => desktop.received.length >= 12);
    assert.equal(desktop.received.subarray(0, 12).toString(), "RFB 003.008\n");
    const [session] = await webSessions(aliceReq.requestId);
    assert.ok(session, "a session was recorded");
    assert.equal(session.connection_type, "web");
    assert.equal(session.user_id, alice.id);
    assert.equal(session.client_ip, "127.0.0.1");
    assert.equal(session.client_os, "Linux");
    assert.equal(session.closed_at, null);
    // The browser's input is the session's activity (the idle session policy counts from it).
    await waitFor("the browser's input noted as activity", async () => {
      const [now] = await webSessions(aliceReq.requestId);
      return now.active_at !== null && now.active_at >= now.created_at;
    });
    opened.ws.close();
    await waitFor(
      "the session to close",
      async () => (await webSessions(aliceReq.requestId))[0].closed_at !== null,
    );
    await waitFor("the desktop's socket to close", () => desktop.open() === 0);
    assert.equal(decoy.connections, 0);
  });

  test("a replayed ticket is refused and connects nothing", async () => {
    const t = await ticket();
    const first = await openGateway(`${gatewayUrl}?ticket=${t}`, origin);
    assert.ok("ws" in first);
    first.ws.close();
    await waitFor("the first connection to end", () => desktop.open() === 0);
    const before = desktop.connections;
    const again = await openGateway(`${gatewayUrl}?ticket=${t}`, origin);
    assert.deepEqual(again, { status: 403 });
    assert.equal(desktop.connections, before);
  });

  test("an expired ticket is refused and connects nothing", async () => {
    const t = await ticket();
    // Expire it in the record (what the clock would do a few seconds later).
    await s.runtime.store.db
      .updateTable("console_tickets")
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where("used_at", "is", null)
      .execute();
    const before = desktop.connections;
    assert.deepEqual(await openGateway(`${gatewayUrl}?ticket=${t}`, origin), { status: 403 });
    assert.equal(desktop.connections, before);
  });

  test("unknown and malformed tickets are refused", async () => {
    const before = desktop.connections;
    const unknown = Buffer.alloc(32, 7).toString("base64url");
    assert.deepEqual(await openGateway(`${gatewayUrl}?ticket=${unknown}`, origin), { status: 403 });
    assert.deepEqual(await openGateway(`${gatewayUrl}?ticket=../../etc`, origin), { status: 403 });
    assert.deepEqual(await openGateway(gatewayUrl, origin), { status: 403 });
    assert.equal(desktop.connections, before);
  });

  test("another user can get no ticket for a request that is not theirs", async () => {
    const bobToken = (await requestVm(s, bob, { conn_type: "web" })).token;
    const res = await ticketFor(bobToken, aliceReq.requestId);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 11);
    assert.equal(res.body.ticket, undefined);
    const none = await ticketFor(bobToken, "req-00000000-0000-0000-0000-000000000000");
    assert.equal(none.body.error.code, 10);
    const noToken = await broker(s, "/v1/console-ticket/", { request: aliceReq.requestId });
    assert.equal(noToken.body.error.code, 24);
  });

  test("a ticket of another user's desktop reaches only that desktop, whatever host or port the URL names", async () => {
    const t = await ticket();
    const beforeDecoy = decoy.connections;
    const forged = `${gatewayUrl}?ticket=${t}&host=127.0.100.250&port=${vncPort}&token=x`;
    const opened = await openGateway(forged, origin);
    assert.ok("ws" in opened);
    opened.ws.close();
    await waitFor("the connection to end", () => desktop.open() === 0);
    assert.equal(decoy.connections, beforeDecoy, "the forged host was never connected");
    // A path that names a host and port is not the gateway at all.
    const t2 = await ticket();
    const pathForged = `${gatewayUrl}/127.0.100.250:${vncPort}?ticket=${t2}`;
    assert.deepEqual(await openGateway(pathForged, origin), { status: 404 });
    assert.equal(decoy.connections, beforeDecoy);
  });

  test("a foreign or missing Origin is refused before the ticket is used", async () => {
    const t = await ticket();
    const before = desktop.connections;
    assert.deepEqual(await openGateway(`${gatewayUrl}?ticket=${t}`, "http://evil.example"), { status: 403 });
    assert.deepEqual(await openGateway(`${gatewayUrl}?ticket=${t}`, undefined), { status: 403 });
    const otherPort = `http://127.0.0.1:${Number(new URL(origin).port) + 1}`;
    assert.deepEqual(await openGateway(`${gatewayUrl}?ticket=${t}`, otherPort), { status: 403 });
    assert.equal(desktop.connections, before);
    // The refusals did not spend it: its owner's own page still connects with it.
    const opened = await openGateway(`${gatewayUrl}?ticket=${t}`, origin);
    assert.ok("ws" in opened);
    opened.ws.close();
    await waitFor("the connection to end", () => desktop.open() === 0);
  });

  test("a user over the connection limit is refused until a connection ends", async () => {
    const first = await openGateway(`${gatewayUrl}?ticket=${await ticket()}`, origin);
    assert.ok("ws" in first);
    const before = desktop.connections;
    assert.deepEqual(await openGateway(`${gatewayUrl}?ticket=${await ticket()}`, origin), { status: 429 });
    assert.equal(desktop.connections, before);
    first.ws.close();
    await waitFor("the first connection to end", () => desktop.open() === 0);
    await waitFor("the slot to be released", () => s.runtime.core.console.limiter.counts().total === 0);
    const next = await openGateway(`${gatewayUrl}?ticket=${await ticket()}`, origin);
    assert.ok("ws" in next);
    next.ws.close();
    await waitFor("the connection to end", () => desktop.open() === 0);
  });

  test("a request that has not completed gets no ticket", async () => {
    const slow = await makePool(s, { console_port: vncPort });
    const carol = await makeUser(s, [slow.id]);
    s.sim.ctx.faults.stuckBuild = true;
    try {
      const req = await requestVm(s, carol, { conn_type: "web" });
      const res = await ticketFor(req.token, req.requestId);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 9);
    } finally {
      s.sim.ctx.faults.stuckBuild = false;
    }
  });

  test("a pool on Nova's console hands Nova's noVNC URL; one on SPICE that Nova does not offer is code 1", async () => {
    const nova = await makePool(s, { console_kind: "nova-novnc" });
    const dave = await makeUser(s, [nova.id]);
    const req = await requestVm(s, dave, { conn_type: "web" });
    assert.equal((await finished(s, req.token, req.requestId)).body.status, "completed");
    const res = await ticketFor(req.token, req.requestId);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.kind, "nova");
    assert.equal(res.body.protocol, "vnc");
    assert.equal(res.body.type, "novnc");
    assert.match(res.body.url, /^http:\/\/.+\?path=%3Ftoken%3D[0-9a-f-]{36}$/);
    assert.equal(res.body.ticket, undefined);

    const anonymous = await broker(s, "/v1/console-ticket/", { request: req.requestId });
    assert.equal(anonymous.body.error.code, 24);
    const spice = await makePool(s, { console_kind: "nova-spice" });
    const erin = await makeUser(s, [spice.id]);
    const sreq = await requestVm(s, erin, { conn_type: "web" });
    assert.equal((await finished(s, sreq.token, sreq.requestId)).body.status, "completed");
    const refused = await ticketFor(sreq.token, sreq.requestId);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 1);
  });

  test("the pool's console settings are admin API extension keys, checked", async () => {
    const admin = (method: string, body?: unknown) =>
      call(s.adminUrl, method, `/v1/projects/${poolId}`, { body, headers: { "X-Auth-Token": s.adminToken } });
    const shown = await admin("GET");
    assert.equal(shown.status, 200);
    assert.equal(shown.body.project.console_port, vncPort);
    assert.equal(shown.body.project.console_kind, "gateway");
    for (const bad of [
      { console_port: 0 },
      { console_port: 65536 },
      { console_port: "22" },
      { console_kind: "ssh" },
    ]) {
      const res = await admin("PUT", { project: bad });
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
    assert.equal((await admin("GET")).body.project.console_port, vncPort, "a refused change changed nothing");
    const reset = await admin("PUT", { project: { console_port: null } });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.equal(reset.body.project.console_port, null);
    const back = await admin("PUT", { project: { console_port: vncPort } });
    assert.equal(back.body.project.console_port, vncPort);
  });

  test("stopping the broker ends its connections and closes their sessions first", async () => {
    const opened = await openGateway(`${gatewayUrl}?ticket=${await ticket()}`, origin);
    assert.ok("ws" in opened);
    await waitFor("the session to be recorded", async () => {
      const sessions = await webSessions(aliceReq.requestId);
      return sessions.some((x) => x.closed_at === null);
    });
    // The test's database outlives the runtime (startStack gives it its own store).
    await s.runtime.stop();
    const open = (await webSessions(aliceReq.requestId)).filter((x) => x.closed_at === null);
    assert.deepEqual(open, []);
    await waitFor("the desktop's socket to close", () => desktop.open() === 0);
  });
});
