// @ts-check
// Sessions: open and closed, filtered by user, pool and connection type (by the API) and by
// client address, state and time range (here, over the answer: the API has no such filters);
// close one; sessions opened over time as a chart.
import { useState } from "preact/hooks";
import * as api from "./api.js";
import { TimeChart } from "./charts.js";
import { html } from "./html.js";
import { t, when } from "./i18n.js";
import { ErrorLine, Field, Loading, Notice, useLoad } from "./ui.js";

const CONN_TYPES = ["web", "rsclient", "rdp", "vnc", "spice", "ssh"];

/** A datetime-local value (browser time) → ms, or null. @param {string} v */
const localMs = (v) => (v ? new Date(v).getTime() : null);

/** @param {{ id: string, label: string, value: string, onChange: (v: string) => void, options: [string, string][] }} p */
function Select({ id, label, value, onChange, options }) {
  return html`<div class="field"><label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(/** @type {any} */ e) => onChange(e.currentTarget.value)}>
      ${options.map(([v, l]) => html`<option key=${v} value=${v}>${l}</option>`)}
    </select></div>`;
}

export function Sessions() {
  const [user, setUser] = useState("");
  const [pool, setPool] = useState("");
  const [conn, setConn] = useState("");
  const [client, setClient] = useState("");
  const [state, setState] = useState("all");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [hours, setHours] = useState("24");
  const [notice, setNotice] = useState(/** @type {string | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const pools = useLoad(() => api.get("/projects/"), []);
  const list = useLoad(
    () =>
      api.get(
        `/sessions/${api.query({ user_name__contains: user.trim(), project_id: pool, connection_type: conn })}`,
      ),
    // Not polled: the admin API answers every matching session at once (no paging), which can be
    // a long history; the list is read on each filter change and on Refresh.
    [user, pool, conn],
  );
  const history = useLoad(() => api.get(`/activity${api.query({ hours, pool_id: pool })}`), [hours, pool]);
  /** @type {Record<string, string>} */
  const poolNames = {};
  for (const p of pools.data?.projects ?? []) poolNames[p.id] = p.name;

  const fromMs = localMs(from);
  const toMs = localMs(to);
  const shown = (list.data?.sessions ?? []).filter((/** @type {any} */ s) => {
    if (state === "open" && s.closed_at) return false;
    if (state === "closed" && !s.closed_at) return false;
    if (client.trim() && !(s.client_ip ?? "").includes(client.trim())) return false;
    const opened = api.parseWire(s.created_at)?.getTime() ?? 0;
    if (fromMs !== null && opened < fromMs) return false;
    if (toMs !== null && opened > toMs) return false;
    return true;
  });

  /** @param {any} s */
  async function close(s) {
    setError(null);
    try {
      await api.call("PUT", `/sessions/${s.session_id}`, { session: {} });
      setNotice(
        t("sessions.closed", { user: s.user_name ?? s.user_id, instance: s.instance_name ?? s.instance_id }),
      );
      list.reload();
    } catch (err) {
      setError(/** @type {Error} */ (err).message);
    }
  }

  const h = history.data;
  return html`<h1>${t("nav.sessions")}</h1>
    <form class="filters" aria-label=${t("sessions.filters")} onSubmit=${(/** @type {Event} */ e) => e.preventDefault()}>
      <${Field} id="f-user" label=${t("sessions.user")} value=${user} onInput=${setUser} />
      <${Select} id="f-pool" label=${t("sessions.pool")} value=${pool} onChange=${setPool}
        options=${[["", t("all")], ...Object.entries(poolNames).sort((a, b) => a[1].localeCompare(b[1]))]} />
      <${Select} id="f-conn" label=${t("sessions.connType")} value=${conn} onChange=${setConn} options=${[["", t("all")], ...CONN_TYPES.map((c) => [c, c])]} />
      <${Field} id="f-client" label=${t("sessions.client")} value=${client} onInput=${setClient} />
      <${Select} id="f-state" label=${t("sessions.state")} value=${state} onChange=${setState}
        options=${[["all", t("all")], ["open", t("sessions.open")], ["closed", t("sessions.closedState")]]} />
      <${Field} id="f-from" type="datetime-local" label=${t("sessions.from")} value=${from} onInput=${setFrom} />
      <${Field} id="f-to" type="datetime-local" label=${t("sessions.to")} value=${to} onInput=${setTo} />
    </form>
    <${Notice} message=${notice} />
    <${ErrorLine} message=${error ?? list.error} />
    <${Loading} when=${list.loading && !list.data} />
    <p class="actions"><span id="sessions-count">${t("sessions.count", { n: shown.length })}</span>
      <button type="button" class="secondary" onClick=${list.reload}>${t("action.refresh")}</button></p>
    <div class="scroll"><table id="sessions-table">
      <thead><tr>
        <th scope="col">${t("sessions.user")}</th><th scope="col">${t("sessions.pool")}</th>
        <th scope="col">${t("instance.name")}</th><th scope="col">${t("sessions.connType")}</th>
        <th scope="col">${t("sessions.client")}</th><th scope="col">${t("sessions.opened")}</th>
        <th scope="col">${t("sessions.closedAt")}</th><th scope="col">${t("instance.actions")}</th>
      </tr></thead>
      <tbody>${shown.map(
        (
          /** @type {any} */ s,
        ) => html`<tr key=${s.session_id} data-session=${s.session_id} data-user=${s.user_name}>
          <td><a href=${`#/users/${s.user_id}`}>${s.user_name ?? s.user_id}</a></td>
          <td>${poolNames[s.project_id] ?? s.project_id ?? "—"}</td>
          <td>${s.instance_name ?? s.instance_id}</td>
          <td>${s.connection_type ?? "—"}</td>
          <td>${s.client_ip ?? "—"}${s.client_info ? html`<br /><small>${s.client_info}</small>` : null}</td>
          <td>${when(s.created_at)}</td>
          <td>${s.closed_at ? when(s.closed_at) : html`<span class="badge good">${t("sessions.open")}</span>`}</td>
          <td>${s.closed_at ? null : html`<button type="button" class="small" aria-label=${`${t("sessions.close")} ${s.user_name ?? ""} ${s.instance_name ?? ""}`} onClick=${() => close(s)}>${t("sessions.close")}</button>`}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    <section aria-labelledby="history-h">
      <h2 id="history-h">${t("sessions.history")}</h2>
      <${Select} id="f-hours" label=${t("sessions.period")} value=${hours} onChange=${setHours}
        options=${[["1", t("period.hour")], ["24", t("period.day")], ["168", t("period.week")]]} />
      ${
        h
          ? html`<${TimeChart} id="chart-sessions" title=${t("sessions.history")}
            times=${h.buckets.map((/** @type {any} */ b) => (api.parseWire(b.at)?.getTime() ?? 0) / 1000)}
            series=${[{ label: t("chart.sessionsOpened"), values: h.buckets.map((/** @type {any} */ b) => b.sessions_opened) }]} />`
          : null
      }
    </section>`;
}
