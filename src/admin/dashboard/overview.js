// @ts-check
// Overview: every pool with its reserve (pools in trouble first), instances by status,
// sessions open now, and allocations and failures over the last hour and day.
import * as api from "./api.js";
import { Bars, TimeChart } from "./charts.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { ErrorLine, Loading, Status, useLoad } from "./ui.js";

/** A pool's trouble rank: 0 for a healthy reserve, higher for worse. @param {any} p */
export function trouble(p) {
  const r = p.reserve ?? {};
  if (r.state && r.state !== "ok") return 3;
  if ((r.failures ?? 0) > 0) return 2;
  if ((r.free ?? 0) + (r.building ?? 0) < (r.target ?? 0)) return 1;
  return 0;
}

/** @param {{ buckets: any[] }} a @param {string} id @param {string} title */
export function activityChart(a, id, title) {
  const times = a.buckets.map((b) => (api.parseWire(b.at)?.getTime() ?? 0) / 1000);
  return html`<${TimeChart} id=${id} title=${title} times=${times} series=${[
    { label: t("chart.allocations"), values: a.buckets.map((b) => b.allocations) },
    { label: t("chart.failures"), values: a.buckets.map((b) => b.failures) },
  ]} />`;
}

export function Overview() {
  const { data, error, loading } = useLoad(
    async () => {
      // The open-session count comes with the activity: listing every session would grow with history.
      const [pools, servers, hour, day] = await Promise.all([
        api.get("/projects/"),
        api.get("/servers/"),
        api.get("/activity?hours=1"),
        api.get("/activity?hours=24"),
      ]);
      return { pools: pools.projects, servers: servers.servers, hour, day };
    },
    [],
    { everyMs: 10_000 },
  );
  if (!data)
    return html`<h1>${t("nav.overview")}</h1><${Loading} when=${loading} /><${ErrorLine} message=${error} />`;

  const pools = [...data.pools].sort((a, b) => trouble(b) - trouble(a) || a.name.localeCompare(b.name));
  /** @type {Record<string, number>} */
  const byStatus = {};
  /** @type {Record<string, number>} */
  const perPool = {};
  for (const s of data.servers) {
    byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
    perPool[s.project_id] = (perPool[s.project_id] ?? 0) + 1;
  }
  const open = data.hour.open_sessions;

  return html`<h1>${t("nav.overview")}</h1>
    <${ErrorLine} message=${error} />
    <section class="cards" aria-label=${t("overview.summary")}>
      <div class="card"><span class="big" id="count-pools">${data.pools.length}</span> ${t("overview.pools")}</div>
      <div class="card"><span class="big" id="count-instances">${data.servers.length}</span> ${t("overview.instances")}</div>
      <div class="card"><span class="big" id="count-open-sessions">${open}</span> ${t("overview.openSessions")}</div>
      <div class="card"><span class="big" id="count-trouble">${pools.filter((p) => trouble(p) > 0).length}</span> ${t("overview.inTrouble")}</div>
    </section>
    <section aria-labelledby="reserve-h">
      <h2 id="reserve-h">${t("overview.reserves")}</h2>
      <div class="scroll"><table id="reserve-table">
        <thead><tr>
          <th scope="col">${t("pool.name")}</th><th scope="col">${t("reserve.state")}</th>
          <th scope="col" class="num">${t("reserve.target")}</th><th scope="col" class="num">${t("reserve.free")}</th>
          <th scope="col" class="num">${t("reserve.building")}</th><th scope="col" class="num">${t("reserve.failures")}</th>
          <th scope="col" class="num">${t("overview.desktopsCol")}</th><th scope="col">${t("reserve.message")}</th>
        </tr></thead>
        <tbody>
          ${pools.map(
            (p) => html`<tr key=${p.id} data-pool=${p.name} class=${trouble(p) > 0 ? "trouble" : ""}>
              <th scope="row"><a href=${`#/pools/${p.id}`}>${p.name}</a></th>
              <td><${Status} status=${p.reserve?.state ?? "ok"} /></td>
              <td class="num">${p.reserve?.target ?? p.min_reserve_vm}</td>
              <td class="num">${p.reserve?.free ?? "—"}</td>
              <td class="num">${p.reserve?.building ?? "—"}</td>
              <td class="num">${p.reserve?.failures ?? 0}</td>
              <td class="num">${perPool[p.id] ?? 0}</td>
              <td class="message">${p.reserve?.message ?? ""}</td>
            </tr>`,
          )}
        </tbody>
      </table></div>
      ${pools.length === 0 ? html`<p>${t("pools.none")}</p>` : null}
    </section>
    <section class="grid" aria-label=${t("overview.charts")}>
      <${Bars} id="chart-status" title=${t("overview.byStatus")}
        items=${Object.entries(byStatus)
          .sort()
          .map(([label, value]) => ({ label, value }))} />
      ${activityChart(data.hour, "chart-hour", t("overview.lastHour"))}
      ${activityChart(data.day, "chart-day", t("overview.lastDay"))}
    </section>`;
}
