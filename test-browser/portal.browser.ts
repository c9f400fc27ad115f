// The portal in a real browser (Debian's chromium driven by playwright-core, no browser
// download): a user with two projects signs in, picks one, follows the steps and sees the
// desktop's address; a wrong password shows the broker's message, in Russian for a Russian
// browser. Outside test/ because npm test must not need Chromium: `npm run test:browser`.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { makeInstances, makePool, makeUser } from "../test/helpers/broker-stack.ts";
import { type Stack, startStack } from "../test/helpers/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Every request the page makes, and every script error it throws. */
function watch(page: Page) {
  const seen = { urls: [] as string[], errors: [] as string[] };
  page.on("request", (req) => seen.urls.push(req.url()));
  page.on("pageerror", (err) => seen.errors.push(err.message));
  return seen;
}

describe("portal in chromium", () => {
  let s: Stack;
  let browser: Browser;
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    s = await startStack({ admin: { enabled: false } });
    // As root Chromium's sandbox cannot start; the page is our own.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  it("signs in, picks a project, follows the steps and shows the desktop's address", async () => {
    const first = await makePool(s, { name: `a-pool-${Date.now()}` });
    const second = await makePool(s, { name: `b-pool-${Date.now()}` });
    await makeInstances(s, second.id, 1);
    const u = await makeUser(s, [first.id, second.id]);
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const seen = watch(page);

    await page.goto(`${s.brokerUrl}/portal`);
    assert.equal(new URL(page.url()).pathname, "/portal/");
    await page.waitForSelector("body[data-ready=true]");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "user");
    const signin = page.locator("#view-signin");
    await signin.getByLabel("User name").fill(u.name);
    await signin.getByLabel("Password").fill(u.password);
    assert.equal(await signin.getByLabel("Domain").inputValue(), "Default");
    await signin.getByLabel("Connection type").selectOption("rdp");
    await signin.getByRole("button", { name: "Get my desktop" }).click();

    // Two projects: the picker appears and takes the focus; the second one is chosen.
    const picker = signin.getByLabel("Project");
    await picker.waitFor({ state: "visible" });
    assert.deepEqual(await picker.locator("option").allTextContents(), [first.name, second.name]);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "project");
    await picker.selectOption(second.name);
    await signin.getByRole("button", { name: "Get my desktop" }).click();

    await page.getByRole("heading", { name: "Your desktop is ready" }).waitFor({ timeout: 30_000 });
    const ip = (await page.locator("#address").textContent()) ?? "";
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "progress-h");
    const rdp = page.getByRole("link", { name: `rdp://full address=s:${ip}` });
    assert.equal(await rdp.getAttribute("href"), `rdp://full%20address=s:${ip}`);
    const found = page.locator('#steps tr[data-step="find_instance"]');
    assert.match((await found.textContent()) ?? "", /done.*taken from the reserve/);
    assert.ok((await page.locator("#steps tbody tr").count()) >= 4);
    assert.match((await page.locator("#progress-status").textContent()) ?? "", /Completed/);

    // The token stays in memory: not in the URL, not in any storage.
    assert.equal(new URL(page.url()).search, "");
    const stored = await page.evaluate(() => localStorage.length + sessionStorage.length);
    assert.equal(stored, 0);
    assert.deepEqual(
      seen.urls.filter((url) => !url.startsWith(s.brokerUrl) && !url.startsWith("data:")),
      [],
    );
    assert.deepEqual(seen.errors, []);
    await context.close();
  });

  it("shows the steps' details in Russian for a Russian browser", async () => {
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
    const u = await makeUser(s, [pool.id]);
    const context = await browser.newContext({ locale: "ru-RU" });
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${s.brokerUrl}/portal/`);
    await page.waitForSelector("body[data-ready=true]");
    const signin = page.locator("#view-signin");
    await signin.getByLabel("Имя пользователя").fill(u.name);
    await page.locator("#password").fill(u.password);
    await signin.getByRole("button", { name: "Получить рабочий стол" }).click();
    await page.getByRole("heading", { name: "Ваш рабочий стол готов" }).waitFor({ timeout: 30_000 });
    const step = async (name: string) =>
      (await page.locator(`#steps tr[data-step="${name}"]`).textContent()) ?? "";
    assert.match(await step("find_instance"), /Поиск рабочего стола.*готово.*машина .* взята из резерва/);
    assert.match(await step("volume"), /в пуле нет дисков пользователей/);
    assert.match(await step("session"), /сеанс [0-9a-f-]{36}/);
    assert.doesNotMatch(
      (await page.locator("#steps").textContent()) ?? "",
      /taken from|the pool has|session [0-9a-f]/,
    );
    assert.deepEqual(seen.errors, []);
    await context.close();
  });

  it("shows the broker's message for a wrong password, in Russian for a Russian browser", async () => {
    const pool = await makePool(s);
    const u = await makeUser(s, [pool.id]);
    for (const [locale, label, button, message] of [
      ["en-US", "User name", "Get my desktop", "Invalid credentials. Please contact system administrator."],
      [
        "ru-RU",
        "Имя пользователя",
        "Получить рабочий стол",
        "Неправильные учётные данные. Обратитесь к системному администратору.",
      ],
    ]) {
      const context = await browser.newContext({ locale });
      const page = await context.newPage();
      const seen = watch(page);
      await page.goto(`${s.brokerUrl}/portal/`);
      await page.waitForSelector("body[data-ready=true]");
      const signin = page.locator("#view-signin");
      await signin.getByLabel(label).fill(u.name);
      await page.locator("#password").fill("wrong-password");
      await signin.getByRole("button", { name: button }).click();
      const alert = page.locator("#signin-error");
      await page.waitForFunction(() => document.getElementById("signin-error")?.textContent !== "");
      assert.equal(await alert.getAttribute("role"), "alert");
      assert.equal(await alert.textContent(), message);
      assert.equal(await page.locator("#view-signin").isVisible(), true);
      assert.deepEqual(seen.errors, []);
      await context.close();
    }
  });

  it("shows the password-expiry warning with a way to change the password, and changes it", async () => {
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
    s.sim.keystoneSettings.passwordExpiresDays = 2;
    let u: Awaited<ReturnType<typeof makeUser>>;
    try {
      u = await makeUser(s, [pool.id]);
    } finally {
      s.sim.keystoneSettings.passwordExpiresDays = 0;
    }
    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${s.brokerUrl}/portal/`);
    await page.waitForSelector("body[data-ready=true]");
    const signin = page.locator("#view-signin");
    await signin.getByLabel("User name").fill(u.name);
    await signin.getByLabel("Password").fill(u.password);
    await signin.getByRole("button", { name: "Get my desktop" }).click();
    const warning = page.locator("#warning-text");
    await warning.waitFor({ state: "visible" });
    assert.match(
      (await warning.textContent()) ?? "",
      /^Password expires in \d+ seconds and needs to be changed\.$/,
    );

    await page.getByRole("button", { name: "Change it now" }).click();
    const change = page.locator("#view-change");
    await change.waitFor({ state: "visible" });
    assert.equal(await change.getByLabel("User name").inputValue(), u.name);
    await change.getByLabel("Current password").fill(u.password);
    await change.getByLabel("New password", { exact: true }).fill("Fresh-pass-77");
    await change.getByLabel("Repeat the new password").fill("Fresh-pass-78");
    await change.getByRole("button", { name: "Change password" }).click();
    assert.equal(
      await change.locator("#change-error").textContent(),
      "The new password and its repetition differ.",
    );
    await change.getByLabel("Repeat the new password").fill("Fresh-pass-77");
    await change.getByRole("button", { name: "Change password" }).click();
    await signin.waitFor({ state: "visible" });
    assert.equal(
      await page.locator("#notice").textContent(),
      `Password successfully changed for user '${u.name}'`,
    );
    assert.equal(await page.evaluate(() => document.activeElement?.id), "password");
    assert.equal(await signin.getByLabel("User name").inputValue(), u.name);
    assert.deepEqual(seen.errors, []);
    await context.close();
    const projects = await fetch(`${s.brokerUrl}/v1/get-projects/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: u.name, password: "Fresh-pass-77" }),
    });
    assert.deepEqual(await projects.json(), { projects: [pool.name] });
  });
});
