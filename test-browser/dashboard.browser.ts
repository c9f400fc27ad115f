// The admin dashboard in a real browser (Debian's chromium driven by playwright-core, no
// browser download) against rs-server on the simulator: the demo user is refused, the admin
// signs in, creates a pool, adds desktops and sees them go ACTIVE, assigns the demo user and
// grants access; the demo user gets a desktop through the broker and the session shows on the
// dashboard, where it is closed; the charts have data; both languages; a revoked token sends
// the page back to sign-in. Screenshots of each screen go to docs/dashboard/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { authenticator } from "otplib";
import { type Browser, chromium, type Page } from "playwright-core";
import { broker, call, finished, makePool, uniq } from "../test/helpers/broker-stack.ts";
import { issueToken, type Stack, startStack } from "../test/helpers/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = new URL("../docs/dashboard/", import.meta.url);

/** Every request the page makes, every script error and every console error (CSP too). */
function watch(page: Page) {
  const seen = { urls: [] as string[], errors: [] as string[] };
  page.on("request", (req) => seen.urls.push(req.url()));
  page.on("pageerror", (err) => seen.errors.push(err.message));
  page.on("console", (m) => {
    // A refused sign-in is an HTTP error the page shows; the browser logs it as well.
    if (m.type() === "error" && !/status of (401|403)/.test(m.text())) seen.errors.push(m.text());
  });
  return seen;
}

async function shot(page: Page, name: string, fullPage = false) {
  await page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage });
}

describe("dashboard in chromium", () => {
  let s: Stack;
  let browser: Browser;
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    mkdirSync(SHOTS, { recursive: true });
    // No token cache: a revoked token is refused at its next use, as the expiry test needs.
    s = await startStack({ auth: { tokenCacheSeconds: 0 } });
    // As root Chromium's sandbox cannot start; the page is our own.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  async function signIn(page: Page, user: { username: string; password: string; userDomainName: string }) {
    const form = page.locator("#signin");
    await form.getByLabel("User name").fill(user.username);
    await form.getByLabel("Password").fill(user.password);
    await form.getByLabel("Domain").fill(user.userDomainName);
    await form.getByRole("button", { name: "Sign in" }).click();
  }

  it("refuses the demo user, then the admin manages a pool and sees the demo user's session", async () => {
    const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    const seen = watch(page);

    await page.goto(`${s.adminUrl}/`);
    assert.equal(new URL(page.url()).pathname, "/dashboard/");
    await page.waitForSelector("body[data-ready=true]");
    await page.waitForFunction(() => document.activeElement?.id === "user");
    await shot(page, "signin");

    // The demo user has no admin role: refused, and told why.
    await signIn(page, s.sim.demo);
    const alert = page.locator("#signin [role=alert]");
    await alert.waitFor();
    assert.match(
      (await alert.textContent()) ?? "",
      /^Refused: the dashboard needs an admin role\. User demo has none/,
    );
    assert.equal(await page.locator("#signin").getByLabel("Password").inputValue(), s.sim.demo.password);

    await signIn(page, s.sim.admin);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    assert.equal(await page.locator("#signin").count(), 0);

    // A pool whose reserve cannot fill (no network): the overview lists it first, in trouble.
    const blocked = await makePool(s, { name: uniq("no-network"), network_id: null, min_reserve_vm: 1 });

    // A new pool from the form.
    const poolName = uniq("dash-pool");
    await page.getByRole("link", { name: "Pools" }).click();
    await page.getByRole("button", { name: "New pool" }).click();
    const form = page.locator("#pool-form");
    await form.getByLabel("Name", { exact: true }).fill(poolName);
    await form.getByLabel("Flavor id").fill(s.sim.seed.flavorId);
    await form.getByLabel("Image id").fill(s.sim.seed.imageId);
    await form.getByLabel("Network id").fill(s.sim.seed.networkId);
    await form.getByLabel("Operation mode").selectOption("1");
    await form.getByRole("button", { name: "Create" }).click();
    await page.locator("#pool-name", { hasText: poolName }).waitFor();
    const poolId = decodeURIComponent(new URL(page.url()).hash.split("/")[2]);
    const pool = await call(s.adminUrl, "GET", `/v1/projects/${poolId}`, {
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.equal(pool.body.project.name, poolName);

    // Drain and undrain from the pool screen: the badge follows, and so does the API.
    await page.getByLabel("Reason (optional)").fill("maintenance");
    await page.getByRole("button", { name: "Drain: no new desktops" }).click();
    await page.locator("#drain-state .badge", { hasText: "draining" }).waitFor();
    const drained = await call(s.adminUrl, "GET", `/v1/projects/${poolId}`, {
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.equal(drained.body.project.draining, true);
    assert.equal(drained.body.project.drain_reason, "maintenance");
    await page.getByRole("button", { name: "Undrain" }).click();
    await page.locator("#drain-state .badge", { hasText: "in service" }).waitFor();

    // Two desktops: they appear, and go ACTIVE as Nova builds them.
    await page.getByLabel("Number of desktops").fill("2");
    await page.getByRole("button", { name: "Add desktops" }).click();
    await page.locator("#instances-table tbody tr").nth(1).waitFor();
    await page.waitForFunction(
      () => {
        const rows = [...document.querySelectorAll("#instances-table tbody tr")];
        return rows.length === 2 && rows.every((r) => r.querySelector(".badge")?.textContent === "ACTIVE");
      },
      undefined,
      { timeout: 30_000 },
    );

    // The demo user onto the first desktop, by name.
    const first = page.locator("#instances-table tbody tr").first();
    const firstName = (await first.getAttribute("data-instance")) ?? "";
    await first.getByRole("button", { name: `Assign ${firstName}` }).click();
    await page.getByLabel("Find by name").fill("demo");
    await page.getByRole("button", { name: "Assign demo", exact: true }).click();
    await first.locator(".holders", { hasText: "demo" }).waitFor();
    await page.getByRole("button", { name: "Close", exact: true }).click();

    // A group onto the second desktop, then unassigned again.
    const groupName = uniq("dash-group");
    await s.runtime.deps.cloud.keystone.createGroup({ name: groupName, domainId: "default" });
    const second = page.locator("#instances-table tbody tr").nth(1);
    const secondName = (await second.getAttribute("data-instance")) ?? "";
    await second.getByRole("button", { name: `Assign ${secondName}` }).click();
    await page.locator(".panel").getByLabel("Groups", { exact: true }).check();
    await page.getByLabel("Find by name").fill(groupName);
    await page.getByRole("button", { name: `Assign ${groupName}`, exact: true }).click();
    await second.locator(".holders", { hasText: groupName }).waitFor();
    await page.getByRole("button", { name: "Close", exact: true }).click();
    await second.getByRole("button", { name: `Unassign ${groupName}` }).click();
    await page.waitForFunction(
      (name) => !document.querySelectorAll("#instances-table tbody tr")[1]?.textContent?.includes(name),
      groupName,
    );

    // Access for the demo user: the broker lets them use the pool.
    await page.getByLabel("Find a user or group to grant access").fill("demo");
    await page.getByRole("button", { name: "Grant demo", exact: true }).click();
    await page.locator("#access-list", { hasText: "demo" }).waitFor();
    await page.locator("#pool-stats").waitFor();

    // Edit: only what changed is sent, the init script as base64.
    await page.getByRole("button", { name: "Edit settings" }).click();
    const edit = page.locator("#pool-form");
    await edit.getByLabel("Description").fill("Desktops for the dashboard test");
    await edit.getByLabel("Free desktops kept in reserve").fill("1");
    await edit.getByLabel("Init script").fill("#!/bin/sh\necho привет");
    await edit.getByLabel("Desktops' VNC port").fill("5901");
    await edit.getByRole("button", { name: "Save" }).click();
    await page.locator("[role=status]", { hasText: "Settings saved." }).waitFor();
    const edited = await call(s.adminUrl, "GET", `/v1/projects/${poolId}?with_os_object=true`, {
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.equal(edited.body.project.min_reserve_vm, 1);
    assert.equal(edited.body.project.os_project.description, "Desktops for the dashboard test");
    assert.equal(
      Buffer.from(edited.body.project.instance_init_script, "base64").toString("utf8"),
      "#!/bin/sh\necho привет",
    );
    assert.equal(edited.body.project.flavor_id, s.sim.seed.flavorId);
    assert.equal(edited.body.project.console_port, 5901);
    assert.equal(edited.body.project.console_kind, "gateway");
    await shot(page, "pool", true);

    // The demo user gets a desktop through the broker, as a desktop client does.
    const res = await broker(s, "/v1/request-vm/", {
      user: s.sim.demo.username,
      password: s.sim.demo.password,
      user_domain_name: s.sim.demo.userDomainName,
      conn_type: "rdp",
      ip_address: "192.0.2.10",
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const done = await finished(s, res.headers.get("x-auth-token")!, res.body.request_id);
    assert.equal(done.body.status, "completed", JSON.stringify(done.body));

    // The session on the dashboard, filtered by user and pool; closed from there.
    await page.getByRole("link", { name: "Sessions" }).click();
    await page.getByLabel("User", { exact: true }).fill("demo");
    await page.getByLabel("Pool", { exact: true }).selectOption(poolId);
    const row = page.locator('#sessions-table tbody tr[data-user="demo"]');
    await row.waitFor();
    assert.equal(await row.count(), 1);
    assert.match((await row.textContent()) ?? "", new RegExp(`${firstName}.*rdp.*192\\.0\\.2\\.10`));
    await page.locator("#chart-sessions canvas").first().waitFor();
    await shot(page, "sessions");
    await row.getByRole("button", { name: /^Close/ }).click();
    await page.locator("[role=status]", { hasText: `Session of demo on ${firstName} closed.` }).waitFor();
    await row
      .locator("td", { hasText: /\d\d:\d\d:\d\d/ })
      .nth(1)
      .waitFor();
    const sessions = await call(s.adminUrl, "GET", `/v1/sessions/?project_id=${poolId}`, {
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.equal(sessions.body.sessions.length, 1);
    assert.notEqual(sessions.body.sessions[0].closed_at, null);

    // Audit: the close made from the dashboard, by its signed-in admin, with its target.
    await page.getByRole("link", { name: "Audit" }).click();
    await page.getByLabel("Route", { exact: true }).fill("sessions");
    await page.getByLabel("Target id", { exact: true }).fill(sessions.body.sessions[0].session_id);
    const change = page.locator("#audit-table tbody tr", { hasText: "PUT" });
    // The filters apply as typed: until then the table still lists the other PUTs.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#audit-table tbody tr")].filter((r) => r.textContent?.includes("PUT"))
          .length === 1,
    );
    assert.equal(await change.count(), 1);
    assert.match((await change.textContent()) ?? "", /\/v1\/sessions\/:session_id/);
    assert.equal(await change.getAttribute("data-status"), "200");
    await shot(page, "audit");

    // The overview: the pool, open sessions, and charts with the allocation in them.
    await page.getByRole("link", { name: "Overview" }).click();
    await page.locator(`#reserve-table tr[data-pool="${poolName}"]`).waitFor();
    const firstRow = page.locator("#reserve-table tbody tr").first();
    await page.locator(`#reserve-table tbody tr.trouble[data-pool="${blocked.name}"]`).waitFor();
    assert.equal(await firstRow.getAttribute("data-pool"), blocked.name);
    assert.match((await firstRow.textContent()) ?? "", /blocked/);
    for (const id of ["chart-hour", "chart-day"]) {
      await page.locator(`#${id} canvas`).first().waitFor();
      assert.match((await page.locator(`#${id} figcaption`).textContent()) ?? "", /allocations: [1-9]/);
    }
    assert.ok(Number(await page.locator("#chart-hour").getAttribute("data-points")) >= 60);
    await shot(page, "overview");

    // Tasks: the background jobs, a failing one first (a row the test writes: the simulator's
    // cloud does not fail), then the broker allocation, finished, with its steps.
    await sql`INSERT INTO periodic_jobs (name, period_seconds, next_run_at, last_started_at, last_finished_at, last_error, failures)
      VALUES ('test.failing-job', 60, now() + interval '1 minute', now(), now(),
              'Error: Neutron answered 403 Forbidden: not allowed to list security groups', 3)`.execute(
      s.runtime.store.db,
    );
    await page.getByRole("link", { name: "Tasks" }).click();
    const firstJob = page.locator("#jobs-trouble tbody tr").first();
    await page.locator('#jobs-table tr[data-job="reserve.keeper"]').waitFor({ state: "attached" });
    assert.match((await page.locator("#jobs-fine summary").textContent()) ?? "", /other \d+ jobs ran well/);
    assert.equal(await firstJob.getAttribute("data-job"), "test.failing-job");
    assert.match((await firstJob.textContent()) ?? "", /failing.*3/);
    await firstJob.locator("summary").click();
    assert.match((await firstJob.locator("pre").textContent()) ?? "", /403 Forbidden/);
    const task = page.locator("#tasks-table tbody tr", { hasText: "SUCCESS" }).first();
    await task.waitFor();
    assert.match((await task.textContent()) ?? "", /find_instance: done/);
    await shot(page, "tasks");

    // Users: the demo user's desktop.
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByLabel("Find a user by name").fill("demo");
    await page.getByRole("button", { name: "Show demo", exact: true }).click();
    await page.locator("#user-desktops", { hasText: poolName }).waitFor();
    // Floating IP: set, move to another, (removed below); a data volume assigned for the pool.
    const neutron = s.runtime.deps.cloud.neutron;
    const [fip1, fip2] = [
      (await neutron.createFloatingIp({ floatingNetworkId: s.sim.seed.externalNetworkId })).id,
      (await neutron.createFloatingIp({ floatingNetworkId: s.sim.seed.externalNetworkId })).id,
    ];
    await page.getByLabel("Floating IP id").fill(fip1);
    await page.getByRole("button", { name: "Set", exact: true }).click();
    await page.locator("#user-fip", { hasText: fip1 }).waitFor();
    await page.getByLabel("Floating IP id").fill(fip2);
    await page.getByRole("button", { name: "Move to this IP" }).click();
    await page.locator("#user-fip", { hasText: fip2 }).waitFor();
    const volumeId = (await s.runtime.deps.cloud.cinder.createVolume({ size: 1, projectId: poolId })).id;
    await page.locator("#u-vol-pool").selectOption(poolId);
    await page.getByLabel("Volume id").fill(volumeId);
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.locator("#user-volumes", { hasText: volumeId }).waitFor();
    await shot(page, "users");
    await page.getByRole("button", { name: "Remove", exact: true }).first().click();
    await page.locator("#user-fip", { hasText: "None" }).waitFor();
    await page.locator("#user-volumes").getByRole("button", { name: "Remove" }).click();
    await page.locator("#user-volumes", { hasText: "No volume assigned." }).waitFor();
    const fips = await call(s.adminUrl, "GET", `/v1/users/${s.sim.demo.userId}`, {
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.equal(fips.body.user[0].floating_ip_id, null);

    // Russian with the switch: the whole page changes, dates too.
    await page.getByRole("button", { name: "RU" }).click();
    await page.getByRole("heading", { name: "Пользователи" }).waitFor();
    await page.getByRole("link", { name: "Обзор" }).click();
    await page.getByRole("heading", { name: "Обзор" }).waitFor();
    assert.match((await page.locator("#chart-day figcaption").textContent()) ?? "", /выдачи: [1-9]/);
    await shot(page, "overview-ru");
    // The pool page in Russian: its settings, reserve schedule line and instances.
    await page.getByRole("link", { name: "Пулы" }).click();
    await page.getByRole("link", { name: poolName }).click();
    await page.getByText("Расписания нет: свободных рабочих столов всегда:").waitFor();
    // The allocation's steps in Russian too (detail_translations, through GET /v1/activity/tasks).
    const steps = page.locator("#pool-tasks .steps", { hasText: "find_instance" }).first();
    await steps.waitFor();
    assert.match((await steps.textContent()) ?? "", /машина .* закреплена за пользователем/);
    assert.doesNotMatch((await steps.textContent()) ?? "", /assigned to the user|has no floating IP/);
    await shot(page, "pool-ru", true);
    await page.getByRole("navigation").getByRole("link", { name: "Обзор" }).click();
    await page.getByRole("heading", { name: "Обзор" }).waitFor();

    // A tablet: nothing wider than the screen.
    await page.setViewportSize({ width: 820, height: 1180 });
    await page.getByRole("button", { name: "EN" }).click();
    await page.getByRole("link", { name: "Pools" }).click();
    await page.locator("#pools-table").waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    await shot(page, "pools-tablet");

    // Delete, confirmed by the pool's name, with its desktops.
    await page.getByRole("link", { name: poolName }).click();
    await page.getByRole("button", { name: "Delete pool" }).click();
    const confirm = page.getByRole("button", { name: "Delete", exact: true });
    assert.equal(await confirm.isDisabled(), true);
    await page.getByLabel("Type the pool's name to confirm").fill(poolName);
    await page.getByLabel("Also delete its desktops").check();
    await confirm.click();
    await page.locator("#pools-table").waitFor();
    const gone = await call(s.adminUrl, "GET", `/v1/projects/${poolId}`, {
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.equal(gone.status, 404);

    // Sign-out forgets the token: back to the form, nothing stored anywhere.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator("#signin [role=status]", { hasText: "You have signed out." }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
    assert.equal((await context.cookies()).length, 0);
    assert.deepEqual(
      seen.urls.filter((url) => !url.startsWith(s.adminUrl) && !url.startsWith("data:")),
      [],
    );
    assert.deepEqual(seen.errors, []);
    await context.close();
  });

  it("starts in Russian for a Russian browser, takes a token, and goes back to sign-in when it is revoked", async () => {
    const context = await browser.newContext({ locale: "ru-RU", viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${s.adminUrl}/dashboard/`);
    await page.getByRole("heading", { name: "Вход" }).waitFor();
    const token = await issueToken(s.sim.authUrl, { ...s.sim.admin });
    await page.getByRole("button", { name: "Войти по токену" }).click();
    await page.getByLabel("Токен Keystone").fill(token);
    await page.getByRole("button", { name: "Войти", exact: true }).click();
    await page.getByRole("heading", { name: "Обзор" }).waitFor();

    // Loaded first, so that no request of the overview is still out when the token is revoked.
    await page.locator("#count-pools").waitFor();
    await s.runtime.deps.cloud.keystone.revokeToken(token);
    // The next call (going to the pools, or the overview's own refresh, whichever comes first)
    // gets a 401 and the page goes back to sign-in.
    await page.evaluate(() => {
      location.hash = "#/pools";
    });
    await page.locator("#signin [role=status]", { hasText: "Сеанс истёк: войдите снова." }).waitFor();
    assert.deepEqual(seen.errors, []);
    await context.close();
  });

  it("asks for the one-time code when Keystone's MFA rules want one, then signs in with it", async () => {
    const ks = s.runtime.deps.cloud.keystone;
    // 160 bits: Keystone refuses TOTP keys under 128 bits.
    const secret = authenticator.generateSecret(20);
    const name = uniq("mfa-admin");
    const password = "Mfa-pass-1";
    const user = await ks.createUser({
      name,
      domainId: "default",
      password,
      options: { multi_factor_auth_rules: [["password", "totp"]] },
    });
    await ks.createTotpCredential(user.id, secret);
    const project = (await ks.listProjects({ name: s.sim.admin.projectName }))[0];
    await ks.grantProjectRole(project.id, { userId: user.id }, (await ks.findRole("admin"))!.id);

    const context = await browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${s.adminUrl}/dashboard/`);
    await page.waitForSelector("body[data-ready=true]");
    const form = page.locator("#signin");
    await form.getByLabel("User name").fill(name);
    await form.getByLabel("Password").fill(password);
    // The user has no default project: the admin role is on the one named here.
    await form.getByLabel("Project (optional)").fill(project.name);
    await form.getByRole("button", { name: "Sign in" }).click();
    const otp = page.getByLabel("One-time code");
    await otp.waitFor();
    // Focus moves in an effect, after the field is painted.
    await page.waitForFunction(() => document.activeElement?.id === "otp");
    assert.match((await page.locator("#signin [role=alert]").textContent()) ?? "", /second factor/);
    await otp.fill("000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page
      .locator("#signin [role=alert]", { hasText: "Invalid user name, password, domain or one-time code." })
      .waitFor();
    await otp.fill(authenticator.generate(secret));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    assert.equal(await page.locator(".who").textContent(), name);
    assert.deepEqual(seen.errors, []);
    await context.close();
  });
});
