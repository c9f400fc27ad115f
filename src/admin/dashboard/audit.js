// @ts-check
// Audit: who changed what through the admin API (GET /v1/audit), newest first, filtered by
// the API itself (user, method, route, target id, refused only, time range); each row shows
// the route's pattern, the ids it named, the keys the change sent and the safe values.
import { useState } from "preact/hooks";
import * as api from "./api.js";
import { html } from "./html.js";
import { t, when } from "./i18n.js";
import { ErrorLine, Field, Loading, useLoad } from "./ui.js";

const METHODS = ["POST", "PUT", "PATCH", "DELETE"];

/** A datetime-local value (browser time) → the API's UTC time, or "". @param {string} v */
const utc = (v) => (v ? new Date(v).toISOString() : "");

/** @param {{ id: string, label: string, value: string, onChange: (v: string) => void, options: [string, string][] }} p */
function Select({ id, label, value, onChange, options }) {
  return html`<div class="field"><label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(/** @type {any} */ e) => onChange(e.currentTarget.value)}>
      ${options.map(([v, l]) => html`<option key=${v} value=${v}>${l}</option>`)}
    </select></div>`;
}

/** The safe values of a change, one `key = value` per line. @param {{ values: Record<string, unknown> }} p */
function Values({ values }) {
  const entries = Object.entries(values ?? {});
  if (!entries.length) return null;
  return html`<details><summary>${t("audit.values", { n: entries.length })}</summary>
    <ul class="audit-values">${entries.map(([k, v]) => html`<li key=${k}><span class="mono">${k}</span> = ${JSON.stringify(v)}</li>`)}</ul>
  </details>`;
}

export function Audit() {
  const [user, setUser] = useState("");
  const [method, setMethod] = useState("");
  const [route, setRoute] = useState("");
  const [target, setTarget] = useState("");
  const [outcome, setOutcome] = useState("all");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const list = useLoad(
    () =>
      api.get(
        `/audit${api.query({
          user_name__contains: user.trim(),
          method,
          route__contains: route.trim(),
          target__contains: target.trim(),
          status__gte: outcome === "refused" ? "400" : "",
          status__lt: outcome === "done" ? "400" : "",
          at__gte: utc(from),
          at__lt: utc(to),
          limit: "200",
        })}`,
      ),
    [user, method, route, target, outcome, from, to],
  );
  const events = list.data?.events ?? [];
  return html`<h1>${t("nav.audit")}</h1>
    <form class="filters" aria-label=${t("audit.filters")} onSubmit=${(/** @type {Event} */ e) => e.preventDefault()}>
      <${Field} id="a-user" label=${t("audit.user")} value=${user} onInput=${setUser} />
      <${Select} id="a-method" label=${t("audit.method")} value=${method} onChange=${setMethod}
        options=${[["", t("all")], ...METHODS.map((m) => [m, m])]} />
      <${Field} id="a-route" label=${t("audit.route")} value=${route} onInput=${setRoute} />
      <${Field} id="a-target" label=${t("audit.target")} value=${target} onInput=${setTarget} />
      <${Select} id="a-outcome" label=${t("audit.outcome")} value=${outcome} onChange=${setOutcome}
        options=${[["all", t("all")], ["done", t("audit.done")], ["refused", t("audit.refused")]]} />
      <${Field} id="a-from" type="datetime-local" label=${t("audit.from")} value=${from} onInput=${setFrom} />
      <${Field} id="a-to" type="datetime-local" label=${t("audit.to")} value=${to} onInput=${setTo} />
    </form>
    <${ErrorLine} message=${list.error} />
    <${Loading} when=${list.loading && !list.data} />
    <p class="actions"><span id="audit-count">${t("audit.count", { n: events.length })}</span>
      <button type="button" class="secondary" onClick=${list.reload}>${t("action.refresh")}</button></p>
    <div class="scroll"><table id="audit-table">
      <thead><tr>
        <th scope="col">${t("audit.at")}</th><th scope="col">${t("audit.user")}</th>
        <th scope="col">${t("audit.method")}</th><th scope="col">${t("audit.route")}</th>
        <th scope="col">${t("audit.target")}</th><th scope="col">${t("audit.keys")}</th>
        <th scope="col">${t("audit.status")}</th><th scope="col">${t("audit.client")}</th>
      </tr></thead>
      <tbody>${events.map(
        (/** @type {any} */ e) => html`<tr key=${e.id} data-event=${e.id} data-status=${e.status}>
          <td>${when(e.at)}</td>
          <td>${e.user_name ?? "—"}</td>
          <td>${e.method}</td>
          <td class="mono">${e.route}</td>
          <td class="mono">${Object.values(e.target ?? {}).join(" ") || "—"}</td>
          <td><span class="mono">${(e.changed_keys ?? []).join(", ")}</span><${Values} values=${e.changed_values} /></td>
          <td><span class=${`badge ${e.status < 400 ? "good" : "bad"}`}>${e.status}</span></td>
          <td>${e.client_ip ?? "—"}</td>
        </tr>`,
      )}</tbody>
    </table></div>`;
}
