// The pool screen's reserve schedule in a real browser (Debian's chromium driven by
// playwright-core): a pool without a schedule says so; one with windows shows the target in
// effect, its next change and a row per window (days, hours, time zone, target, cap) and the
// holidays, in English and in Russian. The screenshot goes to RS_SCREENSHOTS when set.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { makePool } from "../test/helpers/broker-stack.ts";
import { type Stack, startStack } from "../test/helpers/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("the reserve schedule on the pool screen", () => {
  let s: Stack;
  let browser: Browser;
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    s = await startStack({ workers: { enabled: false } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  async function signedIn(locale: string): Promise<Page> {
    const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${s.adminUrl}/dashboard/`);
    await page.waitForSelector("body[data-ready=true]");
    const form = page.locator("#signin");
    await form.locator("#user").fill(s.sim.admin.username);
    await form.locator("#password").fill(s.sim.admin.password);
    await form.locator("#domain").fill(s.sim.admin.userDomainName);
    await form.locator("button[type=submit]").click();
    await page.locator("#signin").waitFor({ state: "detached" });
    page.on("close", () => assert.deepEqual(errors, []));
    return page;
  }

  it("shows none, then the windows, the target in effect and the next change", async () => {
    const plain = await makePool(s, { min_reserve_vm: 2 });
    const scheduled = await makePool(s, {
      min_reserve_vm: 2,
      reserve_schedule: {
        windows: [
          {
            days: ["mon", "tue", "wed", "thu", "fri"],
            start: "08:00",
            end: "18:00",
            time_zone: "Europe/Paris",
            target: 20,
            max_instances: 30,
          },
          { days: ["sat"], start: "22:00", end: "02:00", time_zone: "UTC", target: 1 },
        ],
        holidays: ["2026-12-25", "2027-01-01"],
      },
    });
    const page = await signedIn("en-US");
    await page.goto(`${s.adminUrl}/dashboard/#/pools/${plain.id}`);
    await page
      .locator("#reserve-schedule", { hasText: "No schedule: free desktops kept at all times: 2" })
      .waitFor();

    await page.goto(`${s.adminUrl}/dashboard/#/pools/${scheduled.id}`);
    const rows = page.locator("#schedule-table tbody tr");
    await rows.nth(1).waitFor();
    assert.deepEqual(
      (await rows.allInnerTexts()).map((r) => r.split("\t").map((c) => c.trim())),
      [
        ["Mon, Tue, Wed, Thu, Fri", "08:00–18:00", "Europe/Paris", "20", "30"],
        ["Sat", "22:00–02:00", "UTC", "1", "—"],
      ],
    );
    const text = (await page.locator("#reserve-schedule").textContent()) ?? "";
    assert.match(text, /Target in effect: (20|2|1) \(ready 0, free 0\) · changes to \d+ at /);
    assert.match(text, /2026-12-25, 2027-01-01/);
    assert.match(text, /Outside these windows: 2 \(min_reserve_vm\)/);
    if (process.env.RS_SCREENSHOTS) {
      await page
        .locator("#reserve-schedule")
        .screenshot({ path: join(process.env.RS_SCREENSHOTS, "reserve-schedule.png") });
    }
    await page.close();

    const ru = await signedIn("ru-RU");
    await ru.goto(`${s.adminUrl}/dashboard/#/pools/${scheduled.id}`);
    await ru.locator("#schedule-table tbody tr", { hasText: "Пн, Вт, Ср, Чт, Пт" }).waitFor();
    assert.match(
      (await ru.locator("#reserve-schedule").textContent()) ?? "",
      /Расписание резерва[\s\S]*Действующая цель/,
    );
    await ru.close();
  });
});
