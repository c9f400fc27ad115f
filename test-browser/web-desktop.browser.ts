// The web desktop end to end with real parts: TigerVNC's Xvnc, started here on the loopback
// address the simulator gave the desktop (its instances answer on 127.0.101.0/24), stands in
// for the desktop; Debian's chromium (playwright-core, no browser download) signs in on the
// portal with conn_type web and gets the desktop in the page through noVNC and the broker's
// gateway. The canvas shows the colour drawn on the X display (xsetroot), a key typed in the
// browser reaches the X server (xev on the root window sees it), Ctrl+Alt+Del arrives as
// its three keys, the clipboard goes both ways (xclip on the desktop), and closing the tab
// closes the web session. `npm run test:web-desktop`.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Browser, chromium, type Page } from "playwright-core";
import { makeInstances, makePool, makeUser, type TestUser } from "../test/helpers/broker-stack.ts";
import { type Stack, startStack } from "../test/helpers/stack.ts";

const execFileAsync = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = process.env.ARTIFACTS_DIR ?? fileURLToPath(new URL("../.data/artifacts/", import.meta.url));
/** What the test draws on the desktop: #12ab34. */
const COLOUR = [0x12, 0xab, 0x34];

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Xvnc on host:port, no VNC password (the gateway's ticket is the access control here). */
async function startXvnc(host: string, port: number): Promise<{ proc: ChildProcess; display: string }> {
  const proc = spawn(
    "Xvnc",
    [
      "-displayfd",
      "3",
      "-rfbport",
      String(port),
      "-interface",
      host,
      "-SecurityTypes",
      "None",
      "-geometry",
      "800x600",
      "-depth",
      "24",
      "-nolisten",
      "tcp",
      "-AlwaysShared",
    ],
    { stdio: ["ignore", "ignore", "pipe", "pipe"] },
  );
  let fd3 = "";
  (proc.stdio[3] as NodeJS.ReadableStream).on("data", (d) => {
    fd3 += String(d);
  });
  let log = "";
  proc.stderr?.on("data", (d) => {
    log += String(d);
  });
  const number = await until(`Xvnc's display number (${log.slice(-300)})`, () =>
    /^\d+\n/.test(fd3) ? fd3.trim() : undefined,
  );
  return { proc, display: `:${number}` };
}

/** Every request the page makes, and every script error it throws. */
function watch(page: Page) {
  const seen = { urls: [] as string[], errors: [] as string[], sockets: [] as string[] };
  page.on("request", (req) => seen.urls.push(req.url()));
  page.on("websocket", (ws) => seen.sockets.push(ws.url()));
  page.on("pageerror", (err) => seen.errors.push(err.message));
  return seen;
}

describe("web desktop in chromium", () => {
  let s: Stack;
  let browser: Browser;
  let xvnc: { proc: ChildProcess; display: string };
  let xev: ChildProcess;
  let keys = "";
  let poolId: string;
  let instanceId: string;
  let address: string;
  let u: TestUser;

  const gatewaySessions = (userId: string) =>
    s.runtime.store.db
      .selectFrom("sessions")
      .selectAll()
      .where("user_id", "=", userId)
      .where("client_info", "like", "RS web portal 1.0 (%")
      .orderBy("created_at")
      .execute();

  before(async () => {
    for (const tool of [CHROMIUM, "/usr/bin/Xvnc", "/usr/bin/xsetroot", "/usr/bin/xev", "/usr/bin/xclip"]) {
      assert.ok(existsSync(tool), `${tool} is missing (.ci/web-desktop-stage.sh installs it)`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    s = await startStack({ admin: { enabled: false } }, { sim: { instanceCidr: "127.0.101.0/24" } });
    const vncPort = await freePort();
    ({ id: poolId } = await makePool(s, { console_port: vncPort }));
    // The desktop is built first, so that its address is known and its VNC server is up
    // before the user asks: the allocation then hands this free instance out.
    [instanceId] = await makeInstances(s, poolId, 1);
    const neutron = s.runtime.deps.cloud.neutron;
    address = await until("the desktop's port", async () => {
      const [port] = await neutron.listPorts({ deviceId: instanceId });
      return port?.fixedIps[0]?.ipAddress;
    });
    assert.match(address, /^127\.0\.101\.\d+$/);
    u = await makeUser(s, [poolId]);
    xvnc = await startXvnc(address, vncPort);
    execFileSync("xsetroot", ["-display", xvnc.display, "-solid", "#12ab34"]);
    // With no window manager the focus follows the pointer down to the root window: xev on
    // the root sees every key the VNC server injects.
    xev = spawn("xev", ["-display", xvnc.display, "-root", "-event", "keyboard"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    xev.stdout?.on("data", (d) => {
      keys += String(d);
    });
    // As root Chromium's sandbox cannot start; the page is our own.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });

  after(async () => {
    await browser?.close();
    xev?.kill();
    xvnc?.proc.kill();
    await s?.stop();
  });

  async function signIn(page: Page, u: TestUser) {
    await page.goto(`${s.brokerUrl}/portal/`);
    await page.waitForSelector("body[data-ready=true]");
    const signin = page.locator("#view-signin");
    await signin.getByLabel("User name").fill(u.name);
    await signin.getByLabel("Password").fill(u.password);
    await signin.getByLabel("Connection type").selectOption("web");
    await signin.getByRole("button", { name: "Get my desktop" }).click();
    await page.getByRole("heading", { name: "Your desktop is ready" }).waitFor({ timeout: 60_000 });
  }

  /** The canvas's pixel at the middle of the framebuffer, once noVNC has drawn one. */
  const centrePixel = (page: Page) =>
    page.evaluate(() => {
      const canvas = document.querySelector("#screen canvas") as HTMLCanvasElement | null;
      if (!canvas || canvas.width === 0) return null;
      const ctx = canvas.getContext("2d");
      const d = ctx?.getImageData(Math.floor(canvas.width / 2), Math.floor(canvas.height / 2), 1, 1).data;
      return d ? [d[0], d[1], d[2]] : null;
    });

  it("opens the desktop in the page: the canvas shows the display, keys reach it, closing the tab ends the session", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    const seen = watch(page);
    await signIn(page, u);
    assert.equal(await page.locator("#address").textContent(), address);

    await page.locator("#desktop-status", { hasText: "Connected" }).waitFor({ timeout: 30_000 });
    const pixel = await until("the desktop's colour on the canvas", async () => {
      const p = await centrePixel(page);
      return p && p.join() === COLOUR.join() ? p : undefined;
    });
    assert.deepEqual(pixel, COLOUR);
    const size = await page.evaluate(() => {
      const c = document.querySelector("#screen canvas") as HTMLCanvasElement;
      return [c.width, c.height];
    });
    assert.deepEqual(size, [800, 600], "the canvas carries the desktop's framebuffer");
    await page.screenshot({ path: join(ARTIFACTS, "web-desktop.png") });

    // A key typed in the browser arrives at the X server as that key.
    await page.locator("#screen canvas").click();
    await page.keyboard.press("q");
    await until(
      "xev to see the q key",
      () => /KeyPress event[\s\S]*keysym 0x71, q\)/.test(keys) || undefined,
    );
    // Ctrl+Alt+Del from the toolbar: the three keys, as the browser cannot send them itself.
    await page.getByRole("button", { name: "Ctrl+Alt+Del" }).click();
    await until("xev to see Delete", () => /keysym 0xffff, Delete\)/.test(keys) || undefined);
    assert.match(keys, /keysym 0xffe3, Control_L\)/);
    assert.match(keys, /keysym 0xffe9, Alt_L\)/);

    // The connection is a web session with the browser's OS and name and the client's address.
    const [open] = await gatewaySessions(u.id);
    assert.ok(open, "the gateway recorded a session");
    assert.equal(open.connection_type, "web");
    assert.equal(open.instance_id, instanceId);
    assert.equal(open.client_ip, "127.0.0.1");
    assert.equal(open.client_os, "Linux");
    assert.equal(open.closed_at, null);

    // Everything the page loaded came from the broker, the WebSocket included.
    const broker = new URL(s.brokerUrl).host;
    assert.deepEqual(
      seen.urls.filter((url) => !url.startsWith("data:") && new URL(url).host !== broker),
      [],
    );
    assert.equal(seen.sockets.length, 1);
    assert.equal(new URL(seen.sockets[0]).host, broker);
    assert.equal(new URL(seen.sockets[0]).pathname, "/v1/console-gateway");
    assert.deepEqual(seen.errors, []);

    await page.close();
    await until("the session to close with the tab", async () => {
      const [session] = await gatewaySessions(u.id);
      return session.closed_at ?? undefined;
    });
    await context.close();
  });

  it("carries the clipboard both ways: the desktop's into the page's box, the box's onto the desktop", async () => {
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    await signIn(page, u);
    await page.locator("#desktop-status", { hasText: "Connected" }).waitFor({ timeout: 30_000 });
    // xclip owns the desktop's CLIPBOARD until another owner takes it; Xvnc sends it to noVNC.
    const owner = spawn("xclip", ["-display", xvnc.display, "-selection", "clipboard", "-loops", "0"], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    owner.stdin?.end("from the desktop");
    try {
      const box = page.locator("#desktop-clipboard");
      await until("the desktop's clipboard in the page", async () =>
        (await box.inputValue()) === "from the desktop" ? true : undefined,
      );
      await page.locator("details.desktop-clip summary").click();
      await box.fill("from the browser");
      await page.getByRole("button", { name: "Send to the desktop" }).click();
      // Asynchronously: Xvnc asks noVNC for the text through the gateway, in this process.
      await until("the page's text on the desktop's clipboard", async () => {
        const { stdout } = await execFileAsync(
          "xclip",
          ["-display", xvnc.display, "-selection", "clipboard", "-o"],
          { timeout: 5000 },
        ).catch(() => ({ stdout: "" }));
        return stdout === "from the browser" ? true : undefined;
      });
    } finally {
      owner.kill();
      await context.close();
    }
  });

  it("disconnects and reconnects with a fresh ticket, each connection its own session", async () => {
    const before = (await gatewaySessions(u.id)).length;
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const seen = watch(page);
    await signIn(page, u);
    await page.locator("#desktop-status", { hasText: "Connected" }).waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Disconnect" }).click();
    await page.locator("#desktop-status", { hasText: "Disconnected" }).waitFor();
    await until(
      "the first session to close",
      async () => (await gatewaySessions(u.id))[before]?.closed_at ?? undefined,
    );
    await page.getByRole("button", { name: "Reconnect" }).click();
    await page.locator("#desktop-status", { hasText: "Connected" }).waitFor({ timeout: 30_000 });
    await until("the desktop's colour again", async () => {
      const p = await centrePixel(page);
      return p && p.join() === COLOUR.join() ? p : undefined;
    });
    const sessions = (await gatewaySessions(u.id)).slice(before);
    assert.equal(sessions.length, 2);
    assert.equal(sessions[1].closed_at, null);
    assert.equal(seen.sockets.length, 2);
    const [first, second] = seen.sockets.map((url) => new URL(url).searchParams.get("ticket"));
    assert.notEqual(first, second, "each connection used a ticket of its own");
    assert.deepEqual(seen.errors, []);
    await context.close();
    await until(
      "the second session to close",
      async () => (await gatewaySessions(u.id))[before + 1]?.closed_at ?? undefined,
    );
  });

  it("offers the other connection types what a desktop client opens: an .rdp file, a .vv file", async () => {
    const context = await browser.newContext({ locale: "en-US", acceptDownloads: true });
    const page = await context.newPage();
    for (const [type, ext, line] of [
      ["rdp", "rdp", `full address:s:${address}`],
      ["spice", "vv", `host=${address}`],
    ]) {
      await page.goto(`${s.brokerUrl}/portal/`);
      await page.waitForSelector("body[data-ready=true]");
      const signin = page.locator("#view-signin");
      await signin.getByLabel("User name").fill(u.name);
      await signin.getByLabel("Password").fill(u.password);
      await signin.getByLabel("Connection type").selectOption(type);
      await signin.getByRole("button", { name: "Get my desktop" }).click();
      await page.getByRole("heading", { name: "Your desktop is ready" }).waitFor({ timeout: 60_000 });
      assert.equal(await page.locator("#desktop").isVisible(), false, "no in-page desktop for this type");
      const link = page.getByRole("link", { name: `Download ${instanceId}.${ext}` });
      const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
      assert.equal(download.suggestedFilename(), `${instanceId}.${ext}`);
      const path = await download.path();
      assert.ok(readFileSync(path, "utf8").split(/\r?\n/).includes(line), `${ext} file names the desktop`);
      await page.getByRole("button", { name: "Back to sign in" }).click();
    }
    await context.close();
  });

  it("a pool on Nova's own console shows a link to the URL Nova answered, and no in-page desktop", async () => {
    const nova = await makePool(s, { console_kind: "nova-novnc" });
    const v = await makeUser(s, [nova.id]);
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const seen = watch(page);
    await signIn(page, v);
    const link = page.getByRole("link", { name: "Open the desktop's console" });
    await link.waitFor({ timeout: 30_000 });
    assert.match((await link.getAttribute("href")) ?? "", /\?path=%3Ftoken%3D[0-9a-f-]{36}$/);
    assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
    assert.equal(await page.locator("#screen canvas").count(), 0);
    assert.deepEqual(seen.sockets, [], "no gateway connection");
    assert.deepEqual(seen.errors, []);
    await context.close();
  });
});
