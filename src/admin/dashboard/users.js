// @ts-check
// Users: find a user by name, then their desktops, floating IP (set, move, remove), data
// volume assignments (add, remove) and sessions.
import { useState } from "preact/hooks";
import * as api from "./api.js";
import { DirectorySearch, nameOf } from "./directory.js";
import { html } from "./html.js";
import { t, when } from "./i18n.js";
import { ErrorLine, Field, Notice, useLoad } from "./ui.js";

/** @param {{ id: string }} p */
function UserDetail({ id }) {
  const [fip, setFip] = useState("");
  const [volPool, setVolPool] = useState("");
  const [volume, setVolume] = useState("");
  const [notice, setNotice] = useState(/** @type {string | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const d = useLoad(async () => {
    const q = api.query({ user_id: id });
    const [servers, user, volumes, sessions, pools] = await Promise.all([
      api.get(`/users/${encodeURIComponent(id)}/servers/`),
      api.get(`/users/${encodeURIComponent(id)}`),
      api.get(`/volume-assignments/${q}`),
      api.get(`/sessions/${q}`),
      api.get("/projects/"),
    ]);
    return {
      servers: servers.servers,
      fip: user.user[0]?.floating_ip_id ?? null,
      volumes: volumes["volume-assignments"],
      sessions: sessions.sessions,
      pools: pools.projects,
    };
  }, [id]);
  const act = async (/** @type {() => Promise<string>} */ fn) => {
    setError(null);
    try {
      setNotice(await fn());
      d.reload();
    } catch (err) {
      setError(/** @type {Error} */ (err).message);
    }
  };
  const x = d.data;
  const name = x?.sessions[0]?.user_name ?? nameOf(id);
  /** @type {Record<string, string>} */
  const poolNames = {};
  for (const p of x?.pools ?? []) poolNames[p.id] = p.name;
  return html`<h2 id="user-name">${name} <span class="mono small">${id}</span></h2>
    <${ErrorLine} message=${d.error ?? error} />
    <${Notice} message=${notice} />
    ${
      x
        ? html`<section aria-labelledby="u-desktops-h"><h3 id="u-desktops-h">${t("user.desktops")}</h3>
          <ul id="user-desktops">${x.servers.map((/** @type {any} */ s) => html`<li key=${s.instance_id}><a href=${`#/pools/${s.project_id}`}>${s.project_name}</a>: <span class="mono">${s.instance_id}</span></li>`)}
            ${x.servers.length ? null : html`<li class="none">${t("user.noDesktops")}</li>`}</ul></section>
        <section aria-labelledby="u-fip-h"><h3 id="u-fip-h">${t("user.floatingIp")}</h3>
          <p id="user-fip">${x.fip ?? t("user.noFloatingIp")}</p>
          <form class="inline" onSubmit=${(/** @type {Event} */ e) => {
            e.preventDefault();
            act(async () => {
              await api.call("PUT", `/users/${encodeURIComponent(id)}/floating-ip`, {
                floating_ip_id: fip.trim(),
              });
              setFip("");
              return t("user.fipSet");
            });
          }}>
            <${Field} id="u-fip" label=${t("user.fipId")} value=${fip} onInput=${setFip} required />
            <button type="submit">${x.fip ? t("user.fipMove") : t("user.fipSetButton")}</button>
            ${
              x.fip
                ? html`<button type="button" class="secondary" onClick=${() =>
                    act(async () => {
                      await api.call("DELETE", `/users/${encodeURIComponent(id)}/floating-ip`);
                      return t("user.fipRemoved");
                    })}>${t("user.fipRemove")}</button>`
                : null
            }
          </form></section>
        <section aria-labelledby="u-vol-h"><h3 id="u-vol-h">${t("user.volumes")}</h3>
          <ul id="user-volumes">${x.volumes.map(
            (
              /** @type {any} */ v,
            ) => html`<li key=${v.id}>${poolNames[v.project_id] ?? v.project_id}: <span class="mono">${v.volume_id}</span>
            <button type="button" class="small secondary" onClick=${() =>
              act(async () => {
                await api.call("DELETE", `/volume-assignments/${v.id}`);
                return t("user.volumeRemoved");
              })}>${t("action.remove")}</button></li>`,
          )}
            ${x.volumes.length ? null : html`<li class="none">${t("user.noVolumes")}</li>`}</ul>
          <form class="inline" onSubmit=${(/** @type {Event} */ e) => {
            e.preventDefault();
            act(async () => {
              await api.call("POST", "/volume-assignments/", {
                user_id: id,
                project_id: volPool,
                volume_id: volume.trim(),
              });
              setVolume("");
              return t("user.volumeAdded");
            });
          }}>
            <div class="field"><label for="u-vol-pool">${t("sessions.pool")}</label>
              <select id="u-vol-pool" value=${volPool} required onChange=${(/** @type {any} */ e) => setVolPool(e.currentTarget.value)}>
                <option value="">—</option>
                ${x.pools.map((/** @type {any} */ p) => html`<option key=${p.id} value=${p.id}>${p.name}</option>`)}
              </select></div>
            <${Field} id="u-vol" label=${t("user.volumeId")} value=${volume} onInput=${setVolume} required />
            <button type="submit">${t("action.add")}</button>
          </form></section>
        <section aria-labelledby="u-sess-h"><h3 id="u-sess-h">${t("nav.sessions")}</h3>
          <ul id="user-sessions">${x.sessions.slice(0, 50).map((/** @type {any} */ s) => html`<li key=${s.session_id}>${s.instance_name ?? s.instance_id} · ${s.connection_type ?? "—"} · ${when(s.created_at)} → ${s.closed_at ? when(s.closed_at) : t("sessions.open")}</li>`)}
            ${x.sessions.length ? null : html`<li class="none">${t("user.noSessions")}</li>`}</ul></section>`
        : null
    }`;
}

/** @param {{ id?: string }} p */
export function Users({ id }) {
  return html`<h1>${t("nav.users")}</h1>
    <${DirectorySearch} id="user-search" kind="users" label=${t("user.search")} actionLabel=${t("action.show")}
      onPick=${async (/** @type {any} */ u) => {
        location.hash = `#/users/${encodeURIComponent(u.id)}`;
      }} />
    ${id ? html`<${UserDetail} id=${id} />` : null}`;
}
