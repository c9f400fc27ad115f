// The portal at the original platform's address in a real browser: the portal server's root
// leads to /trs/, where a user signs in and gets a desktop, the page calling the broker API on
// that same origin only (port 8888 by default; here a free port).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium } from "playwright-core";
import { makeInstances, makePool, makeUser } from "../test/helpers/broker-stack.ts";
import { type Stack, startStack } from "../test/helpers/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("portal at /trs/ in chromium", () => {
  let s: Stack;
  let browser: Browser;
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    s = await startStack({ admin: { enabled: false } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  it("from the portal server's root to a desktop, on that origin only", async () => {
    const origin = s.runtime.portalUrl;
    assert.ok(origin, "the portal server runs");
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
    const u = await makeUser(s, [pool.id]);
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const urls: string[] = [];
    const errors: string[] = [];
    page.on("request", (req) => urls.push(req.url()));
    page.on("pageerror", (err) => errors.push(err.message));

    await page.goto(`${origin}/`);
    assert.equal(new URL(page.url()).pathname, "/trs/");
    await page.waitForSelector("body[data-ready=true]");
    const signin = page.locator("#view-signin");
    await signin.getByLabel("User name").fill(u.name);
    await signin.getByLabel("Password").fill(u.password);
    await signin.getByRole("button", { name: "Get my desktop" }).click();
    await page.getByRole("heading", { name: "Your desktop is ready" }).waitFor({ timeout: 30_000 });
    assert.match((await page.locator("#address").textContent()) ?? "", /^\d+\.\d+\.\d+\.\d+$/);

    assert.ok(
      urls.some((url) => url.startsWith(`${origin}/v1/request-vm/`)),
      "request-vm on this origin",
    );
    assert.deepEqual(
      urls.filter((url) => !url.startsWith(origin) && !url.startsWith("data:")),
      [],
    );
    assert.deepEqual(errors, []);
    await context.close();
  });
});
