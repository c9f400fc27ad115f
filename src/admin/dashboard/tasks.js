// @ts-check
// Tasks: state, the live progress of running ones (a broker allocation's steps as they
// happen), the traceback of failed ones. Polled every 2 s while any is unfinished.
import * as api from "./api.js";
import { html } from "./html.js";
import { t, when } from "./i18n.js";
import { ErrorLine, Loading, Status, useLoad } from "./ui.js";

const RUNNING = ["PENDING", "STARTED", "RETRY"];

/** @param {{ tasks: any[] }} d */
export const anyRunning = (d) => d.tasks.some((x) => RUNNING.includes(x.status));

/** @param {{ task: any }} p */
function Progress({ task }) {
  const steps = task.request?.steps ?? [];
  const running = RUNNING.includes(task.status);
  if (!steps.length) return running ? html`<progress aria-label=${t("task.progress")}></progress>` : null;
  const done = steps.filter((/** @type {any} */ s) => s.outcome !== "running").length;
  return html`<div class="steps">
    ${running ? html`<progress aria-label=${t("task.progress")} max=${steps.length + 1} value=${done}></progress>` : null}
    <ol>${steps.map(
      (/** @type {any} */ s) =>
        html`<li key=${s.name} class=${s.outcome}>${s.name}: ${t(`step.${s.outcome}`)}${s.duration_ms != null ? ` (${s.duration_ms} ms)` : ""}${s.detail ? ` — ${s.detail}` : ""}</li>`,
    )}</ol>
  </div>`;
}

/** @param {{ tasks: any[], id?: string, poolNames?: Record<string, string> }} p */
export function TaskTable({ tasks, id = "tasks-table", poolNames = {} }) {
  if (!tasks.length) return html`<p>${t("tasks.none")}</p>`;
  return html`<div class="scroll"><table id=${id}>
    <thead><tr>
      <th scope="col">${t("task.name")}</th><th scope="col">${t("task.state")}</th>
      <th scope="col">${t("task.created")}</th><th scope="col">${t("task.finished")}</th>
      <th scope="col">${t("task.progress")}</th>
    </tr></thead>
    <tbody>${tasks.map(
      (x) => html`<tr key=${x.id} data-task=${x.id}>
        <td><span class="mono">${x.name}</span>${x.pool_id ? html`<br /><a href=${`#/pools/${x.pool_id}`} class="small">${poolNames[x.pool_id] ?? t("task.pool")}</a>` : null}</td>
        <td><${Status} status=${x.status} />${x.retries ? html` <small>${t("task.retries", { n: x.retries })}</small>` : null}</td>
        <td>${when(x.created_at)}</td>
        <td>${when(x.finished_at)}</td>
        <td>
          <${Progress} task=${x} />
          ${x.traceback ? html`<details><summary>${t("task.traceback")}</summary><pre>${x.traceback}</pre></details>` : null}
        </td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

export function Tasks() {
  const { data, error, loading, reload } = useLoad(() => api.get("/activity/tasks?limit=100"), [], {
    everyMs: 3000,
  });
  const pools = useLoad(() => api.get("/projects/"), []);
  /** @type {Record<string, string>} */
  const poolNames = {};
  for (const p of pools.data?.projects ?? []) poolNames[p.id] = p.name;
  return html`<h1>${t("nav.tasks")}</h1>
    <p><button type="button" class="secondary" onClick=${reload}>${t("action.refresh")}</button></p>
    <${ErrorLine} message=${error} />
    <${Loading} when=${loading && !data} />
    ${data ? html`<${TaskTable} tasks=${data.tasks} poolNames=${poolNames} />` : null}`;
}
