// @ts-check
// The pool screen's reserve schedule (issue 16): the target in effect, the next change and the
// windows of `reserve_schedule` (days, hours in their time zone, target, cap), holidays.
import { html } from "./html.js";
import { t, when } from "./i18n.js";

/** @param {{ pool: any }} p */
export function ReserveSchedule({ pool }) {
  const r = pool.reserve;
  const s = pool.reserve_schedule;
  const next = r?.next_change;
  return html`<section aria-labelledby="schedule-h" id="reserve-schedule">
    <h2 id="schedule-h">${t("schedule.title")}</h2>
    <p>
      ${t("schedule.inEffect", { target: r?.target ?? pool.min_reserve_vm, ready: r?.ready ?? 0, free: r?.free ?? 0 })}
      ${next ? html` · ${t("schedule.next", { target: next.target, at: when(next.at) })}` : null}
    </p>
    ${
      s?.windows?.length
        ? html`<div class="scroll"><table id="schedule-table">
          <thead><tr>
            <th scope="col">${t("schedule.days")}</th><th scope="col">${t("schedule.hours")}</th>
            <th scope="col">${t("schedule.timeZone")}</th><th scope="col" class="num">${t("reserve.target")}</th>
            <th scope="col" class="num">${t("schedule.max")}</th>
          </tr></thead>
          <tbody>${s.windows.map(
            (/** @type {any} */ w, /** @type {number} */ i) => html`<tr key=${i}>
              <td>${w.days.map((/** @type {string} */ d) => t(`day.${d}`)).join(", ")}</td>
              <td class="mono">${w.start}–${w.end}</td>
              <td>${w.time_zone}</td>
              <td class="num">${w.target}</td>
              <td class="num">${w.max_instances ?? "—"}</td>
            </tr>`,
          )}</tbody>
        </table></div>
        ${s.holidays?.length ? html`<p>${t("schedule.holidays")}: <span class="mono">${s.holidays.join(", ")}</span></p>` : null}
        <p class="small">${t("schedule.outside", { n: pool.min_reserve_vm })}</p>`
        : html`<p>${t("schedule.none", { n: pool.min_reserve_vm })}</p>`
    }
  </section>`;
}
