// @ts-check
// Pools: the list with each reserve, and the form that creates a pool.
import { useState } from "preact/hooks";
import * as api from "./api.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { PoolForm } from "./pool-form.js";
import { ErrorLine, Loading, Status, useLoad } from "./ui.js";

export function Pools() {
  const [creating, setCreating] = useState(false);
  const { data, error, loading, reload } = useLoad(() => api.get("/projects/?with_os_object=true"), []);
  const pools = data?.projects ?? [];
  return html`<h1>${t("nav.pools")}</h1>
    <${ErrorLine} message=${error} />
    ${
      creating
        ? html`<section aria-labelledby="create-h"><h2 id="create-h">${t("pools.create")}</h2>
          <${PoolForm} initial=${null} templates=${pools} submitLabel=${t("action.create")}
            onCancel=${() => setCreating(false)}
            onSubmit=${async (/** @type {any} */ body) => {
              const res = await api.call("POST", "/projects/", { project: body });
              location.hash = `#/pools/${res.project.id}`;
            }} /></section>`
        : html`<p class="actions"><button type="button" onClick=${() => setCreating(true)}>${t("pools.create")}</button>
          <button type="button" class="secondary" onClick=${reload}>${t("action.refresh")}</button></p>`
    }
    <${Loading} when=${loading && !data} />
    <div class="scroll"><table id="pools-table">
      <thead><tr>
        <th scope="col">${t("pool.name")}</th><th scope="col">${t("pool.operation_mode")}</th>
        <th scope="col">${t("pool.enabled")}</th><th scope="col">${t("reserve.state")}</th>
        <th scope="col" class="num">${t("reserve.target")}</th><th scope="col" class="num">${t("reserve.free")}</th>
        <th scope="col" class="num">${t("reserve.building")}</th><th scope="col" class="col-id">${t("pool.id")}</th>
      </tr></thead>
      <tbody>${pools.map(
        (/** @type {any} */ p) => html`<tr key=${p.id}>
          <th scope="row"><a href=${`#/pools/${p.id}`}>${p.name}</a></th>
          <td>${t(`mode.${p.operation_mode}`)}</td>
          <td>${p.os_project?.enabled === false ? t("no") : t("yes")}</td>
          <td><${Status} status=${p.draining ? "draining" : (p.reserve?.state ?? "ok")} /></td>
          <td class="num">${p.reserve?.target ?? p.min_reserve_vm}</td>
          <td class="num">${p.reserve?.free ?? "—"}</td>
          <td class="num">${p.reserve?.building ?? "—"}</td>
          <td class="mono col-id">${p.id}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${data && pools.length === 0 ? html`<p>${t("pools.none")}</p>` : null}`;
}
