// @ts-check
// One pool: its settings (edit, delete with confirmation), desktops (add, status, holders,
// open sessions, assign and unassign users and groups), who has access (grant, revoke),
// statistics as numbers and charts, and its tasks with live progress.
import { useState } from "preact/hooks";
import * as api from "./api.js";
import { Bars } from "./charts.js";
import { DirectorySearch, nameOf, remember } from "./directory.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { activityChart } from "./overview.js";
import { formOf, PoolForm } from "./pool-form.js";
import { PoolLifecycle } from "./pool-lifecycle.js";
import { ReserveSchedule } from "./reserve-schedule.js";
import { TaskTable } from "./tasks.js";
import { ErrorLine, Field, Loading, Notice, Status, useLoad } from "./ui.js";

/** @param {{ pool: any, onDeleted: () => void }} p */
function DeletePool({ pool, onDeleted }) {
  const [asking, setAsking] = useState(false);
  const [typed, setTyped] = useState("");
  const [force, setForce] = useState(false);
  const [error, setError] = useState(/** @type {string | null} */ (null));
  if (!asking)
    return html`<button type="button" class="danger" onClick=${() => setAsking(true)}>${t("pool.delete")}</button>`;
  return html`<div class="confirm" role="alertdialog" aria-labelledby="del-h" aria-describedby="del-d">
    <h3 id="del-h">${t("pool.deleteTitle", { name: pool.name })}</h3>
    <p id="del-d">${t("pool.deleteText")}</p>
    <${Field} id="del-name" label=${t("pool.deleteType")} value=${typed} onInput=${setTyped} />
    <div class="field check"><input id="del-force" type="checkbox" checked=${force} onChange=${(/** @type {any} */ e) => setForce(e.currentTarget.checked)} />
      <label for="del-force">${t("pool.deleteForce")}</label></div>
    <${ErrorLine} message=${error} />
    <div class="actions">
      <button type="button" class="danger" disabled=${typed !== pool.name} onClick=${async () => {
        try {
          await api.call("DELETE", `/projects/${pool.id}${force ? "?force=true" : ""}`);
          onDeleted();
        } catch (err) {
          setError(/** @type {Error} */ (err).message);
        }
      }}>${t("pool.deleteConfirm")}</button>
      <button type="button" class="secondary" onClick=${() => setAsking(false)}>${t("action.cancel")}</button>
    </div>
  </div>`;
}

/** @param {{ server: any, onChanged: () => void }} p */
function Holders({ server, onChanged }) {
  const [error, setError] = useState(/** @type {string | null} */ (null));
  /** @param {"users" | "groups"} kind @param {string} id */
  const unassign = async (kind, id) => {
    try {
      await api.call("DELETE", `/servers/${server.id}/${kind}/${encodeURIComponent(id)}`);
      onChanged();
    } catch (err) {
      setError(/** @type {Error} */ (err).message);
    }
  };
  return html`<div>
    <ul class="holders">
      ${server.users.map((/** @type {string} */ u) => html`<li key=${u}><span class="kind">${t("holder.user")}</span> ${nameOf(u)} <button type="button" class="small secondary" aria-label=${`${t("action.unassign")} ${nameOf(u)}`} onClick=${() => unassign("users", u)}>×</button></li>`)}
      ${server.groups.map((/** @type {string} */ g) => html`<li key=${g}><span class="kind">${t("holder.group")}</span> ${nameOf(g)} <button type="button" class="small secondary" aria-label=${`${t("action.unassign")} ${nameOf(g)}`} onClick=${() => unassign("groups", g)}>×</button></li>`)}
    </ul>
    <${ErrorLine} message=${error} />
  </div>`;
}

/** @param {{ server: any, onChanged: () => void, onClose: () => void }} p */
function AssignPanel({ server, onChanged, onClose }) {
  const [kind, setKind] = useState(/** @type {"users" | "groups"} */ ("users"));
  return html`<div class="panel" aria-labelledby="assign-h">
    <h3 id="assign-h">${t("assign.title", { name: server.name })}</h3>
    <div role="radiogroup" aria-label=${t("assign.kind")} class="radios">
      <label><input type="radio" name="assign-kind" checked=${kind === "users"} onChange=${() => setKind("users")} /> ${t("assign.users")}</label>
      <label><input type="radio" name="assign-kind" checked=${kind === "groups"} onChange=${() => setKind("groups")} /> ${t("assign.groups")}</label>
    </div>
    <${DirectorySearch} id="assign-search" kind=${kind} key=${kind} label=${t("assign.search")} actionLabel=${t("action.assign")}
      onPick=${async (/** @type {any} */ i) => {
        await api.call("POST", `/servers/${server.id}/${kind}/`, { [kind]: [i.id] });
        onChanged();
      }} />
    <button type="button" class="secondary" onClick=${onClose}>${t("action.close")}</button>
  </div>`;
}

/** @param {{ poolId: string }} p */
function Access({ poolId }) {
  const { data, error, reload } = useLoad(async () => {
    const a = await api.get(`/projects/${poolId}/access`);
    remember(a.users);
    remember(a.groups);
    return a;
  }, [poolId]);
  const [kind, setKind] = useState(/** @type {"users" | "groups"} */ ("users"));
  const [err2, setErr2] = useState(/** @type {string | null} */ (null));
  /** @param {"users" | "groups"} k @param {string} id */
  const revoke = async (k, id) => {
    try {
      await api.call("DELETE", `/projects/${poolId}/access/${k}/${encodeURIComponent(id)}`);
      reload();
    } catch (err) {
      setErr2(/** @type {Error} */ (err).message);
    }
  };
  return html`<section aria-labelledby="access-h">
    <h2 id="access-h">${t("access.title")}</h2>
    <p class="hint">${t("access.hint")}</p>
    <${ErrorLine} message=${error ?? err2} />
    <ul id="access-list" class="holders">
      ${(data?.users ?? []).map((/** @type {any} */ u) => html`<li key=${u.id}><span class="kind">${t("holder.user")}</span> ${u.name} <button type="button" class="small secondary" onClick=${() => revoke("users", u.id)}>${t("action.revoke")} ${u.name}</button></li>`)}
      ${(data?.groups ?? []).map((/** @type {any} */ g) => html`<li key=${g.id}><span class="kind">${t("holder.group")}</span> ${g.name} <button type="button" class="small secondary" onClick=${() => revoke("groups", g.id)}>${t("action.revoke")} ${g.name}</button></li>`)}
      ${data && !data.users.length && !data.groups.length ? html`<li class="none">${t("access.none")}</li>` : null}
    </ul>
    <div role="radiogroup" aria-label=${t("assign.kind")} class="radios">
      <label><input type="radio" name="access-kind" checked=${kind === "users"} onChange=${() => setKind("users")} /> ${t("assign.users")}</label>
      <label><input type="radio" name="access-kind" checked=${kind === "groups"} onChange=${() => setKind("groups")} /> ${t("assign.groups")}</label>
    </div>
    <${DirectorySearch} id="access-search" kind=${kind} key=${kind} label=${t("access.search")} actionLabel=${t("action.grant")}
      onPick=${async (/** @type {any} */ i) => {
        await api.call("PUT", `/projects/${poolId}/access/${kind}/${encodeURIComponent(i.id)}`);
        reload();
      }} />
  </section>`;
}

/** @param {{ id: string }} p */
export function PoolDetail({ id }) {
  const [editing, setEditing] = useState(false);
  const [assigning, setAssigning] = useState(/** @type {string | null} */ (null));
  const [count, setCount] = useState("1");
  const [notice, setNotice] = useState(/** @type {string | null} */ (null));
  const [actionError, setActionError] = useState(/** @type {string | null} */ (null));
  const pool = useLoad(() => api.get(`/projects/${id}?with_os_object=true`), [id]);
  // Open sessions per desktop come counted with the pool's activity: the pool's session list
  // would grow with its whole history, and this is polled.
  const servers = useLoad(
    async () => {
      const [s, activity] = await Promise.all([
        api.get(`/servers/${api.query({ project_id: id, with_os_object: true })}`),
        api.get(`/activity${api.query({ hours: 1, pool_id: id })}`),
      ]);
      return { servers: s.servers, openOn: activity.open_by_instance ?? {} };
    },
    [id],
    { everyMs: 3000 },
  );
  const stats = useLoad(async () => {
    const [s, day] = await Promise.all([
      api.get(`/projects/${id}/statistics`),
      api.get(`/activity${api.query({ hours: 24, pool_id: id })}`),
    ]);
    return { stats: s.statistics, day };
  }, [id]);
  const tasks = useLoad(() => api.get(`/activity/tasks${api.query({ limit: 20, pool_id: id })}`), [id], {
    everyMs: 3000,
  });

  const p = pool.data?.project;
  if (!p)
    return html`<h1>${t("nav.pools")}</h1><${Loading} when=${pool.loading} /><${ErrorLine} message=${pool.error} />`;
  /** @type {Record<string, number>} */
  const openOn = servers.data?.openOn ?? {};
  const refreshAll = () => {
    pool.reload();
    servers.reload();
    stats.reload();
    tasks.reload();
  };
  const act = async (/** @type {() => Promise<string>} */ fn) => {
    setActionError(null);
    try {
      setNotice(await fn());
      refreshAll();
    } catch (err) {
      setActionError(/** @type {Error} */ (err).message);
    }
  };
  const st = stats.data?.stats;

  return html`<p class="crumbs"><a href="#/pools">${t("nav.pools")}</a> ›</p>
    <h1 id="pool-name">${p.name}</h1>
    <p><${Status} status=${p.reserve?.state ?? "ok"} /> ${p.reserve?.message ?? ""} <span class="mono small">${p.id}</span></p>
    <${Notice} message=${notice} />
    <${ErrorLine} message=${actionError} />
    <${PoolLifecycle} pool=${p} onChanged=${refreshAll} />
    <div class="actions">
      <button type="button" onClick=${() => setEditing(!editing)} aria-expanded=${editing}>${t("pool.edit")}</button>
      <button type="button" class="secondary" onClick=${() =>
        act(async () => {
          const r = await api.call("POST", `/projects/${id}/actions/auto-allocate-users`);
          return t("pool.autoAllocated", { id: r.task_id });
        })}>${t("pool.autoAllocate")}</button>
      <${DeletePool} pool=${p} onDeleted=${() => {
        location.hash = "#/pools";
      }} />
    </div>
    ${
      editing
        ? html`<section aria-labelledby="edit-h"><h2 id="edit-h">${t("pool.edit")}</h2>
          <${PoolForm} initial=${formOf(p)} submitLabel=${t("action.save")} onCancel=${() => setEditing(false)}
            onSubmit=${async (/** @type {any} */ body) => {
              if (Object.keys(body).length) await api.call("PUT", `/projects/${id}`, { project: body });
              setEditing(false);
              setNotice(t("pool.saved"));
              refreshAll();
            }} /></section>`
        : null
    }

    <${ReserveSchedule} pool=${p} />

    <section aria-labelledby="desktops-h">
      <h2 id="desktops-h">${t("pool.desktops")}</h2>
      <form class="inline" onSubmit=${(/** @type {Event} */ e) => {
        e.preventDefault();
        act(async () => {
          const r = await api.call("POST", "/servers/", { server: { project_id: id, count: Number(count) } });
          return t("pool.added", { n: r.servers.length });
        });
      }}>
        <${Field} id="add-count" type="number" label=${t("pool.addCount")} value=${count} onInput=${setCount} />
        <button type="submit">${t("pool.add")}</button>
      </form>
      <${ErrorLine} message=${servers.error} />
      <div class="scroll"><table id="instances-table">
        <thead><tr>
          <th scope="col">${t("instance.name")}</th><th scope="col">${t("instance.status")}</th>
          <th scope="col">${t("instance.holders")}</th><th scope="col">${t("pool.operation_mode")}</th>
          <th scope="col" class="num">${t("instance.openSessions")}</th><th scope="col">${t("instance.actions")}</th>
        </tr></thead>
        <tbody>${(servers.data?.servers ?? []).map(
          (/** @type {any} */ s) => html`<tr key=${s.id} data-instance=${s.name}>
            <th scope="row">${s.name}</th>
            <td><${Status} status=${s.status} /></td>
            <td><${Holders} server=${s} onChanged=${servers.reload} /></td>
            <td>${t(`mode.${p.operation_mode}`)}</td>
            <td class="num">${openOn[s.id] ?? 0}</td>
            <td><button type="button" class="small" onClick=${() => setAssigning(s.id)} aria-label=${`${t("action.assign")} ${s.name}`}>${t("action.assign")}</button></td>
          </tr>`,
        )}</tbody>
      </table></div>
      ${servers.data && servers.data.servers.length === 0 ? html`<p>${t("pool.noDesktops")}</p>` : null}
      ${
        assigning && servers.data?.servers.find((/** @type {any} */ s) => s.id === assigning)
          ? html`<${AssignPanel} server=${servers.data.servers.find((/** @type {any} */ s) => s.id === assigning)} onChanged=${servers.reload} onClose=${() => setAssigning(null)} />`
          : null
      }
    </section>

    <${Access} poolId=${id} />

    <section aria-labelledby="stats-h">
      <h2 id="stats-h">${t("stats.title")}</h2>
      <${ErrorLine} message=${stats.error} />
      ${
        st
          ? html`<div class="grid">
            <dl class="stats" id="pool-stats">${Object.entries(st).map(([k, v]) => html`<div key=${k}><dt>${t(`stats.${k}`)}</dt><dd>${v}</dd></div>`)}</dl>
            <${Bars} id="chart-pool-stats" title=${t("stats.trs")} items=${[
              { label: t("stats.active_trs_servers"), value: st.active_trs_servers },
              { label: t("stats.free_trs_servers"), value: st.free_trs_servers },
              { label: t("stats.occupied_trs_servers"), value: st.occupied_trs_servers },
              { label: t("stats.error_trs_servers"), value: st.error_trs_servers },
            ]} />
            ${activityChart(stats.data.day, "chart-pool-day", t("overview.lastDay"))}
          </div>`
          : html`<${Loading} when=${stats.loading} />`
      }
    </section>

    <section aria-labelledby="pool-tasks-h">
      <h2 id="pool-tasks-h">${t("nav.tasks")}</h2>
      <${ErrorLine} message=${tasks.error} />
      ${tasks.data ? html`<${TaskTable} tasks=${tasks.data.tasks} id="pool-tasks" />` : null}
    </section>`;
}
