// Draws a request's progress: the steps table (rows updated in place, so that a screen reader
// hears each step once, through the live region, as it finishes), the server's state and the
// ways to connect. DOM only; what the broker said comes in as plain objects.
import { connectionFiles, connectionHints, formatDuration } from "./broker-client.js";

/** `lang`: the page's language; a step's detail is shown in it when the broker sent it so. */
export function createProgressView(doc, t, lang = "en") {
  const $ = (id) => doc.getElementById(id);
  const tbody = $("steps").querySelector("tbody");
  const announce = $("announce");
  let seen = new Map();

  const stepLabel = (name) => {
    const key = `step.${name}`;
    const label = t(key);
    return label === key ? name : label;
  };

  const cell = (text, className) => {
    const td = doc.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  };

  function renderRow(tr, step) {
    const name = cell(stepLabel(step.name));
    const id = doc.createElement("span");
    id.className = "step-id";
    id.textContent = step.name;
    name.append(id);
    tr.replaceChildren(
      name,
      cell(t(`outcome.${step.outcome}`), `outcome-${step.outcome}`),
      cell(step.detail_translations?.[lang] ?? step.detail ?? ""),
      cell(formatDuration(step.duration_ms) ?? "…"),
    );
    tr.dataset.outcome = step.outcome;
  }

  return {
    reset() {
      seen = new Map();
      tbody.replaceChildren();
      announce.textContent = "";
      $("server-state").textContent = "";
      $("progress-status").textContent = "";
      $("progress-bar").hidden = true;
      $("ready").hidden = true;
      $("failed").hidden = true;
      $("hints").replaceChildren();
    },

    /** Steps as the broker lists them, in order: new rows appended, changed ones redrawn. */
    steps(steps) {
      const news = [];
      steps.forEach((step, i) => {
        const key = `${i}:${step.name}`;
        const signature = `${step.outcome}|${step.duration_ms}|${step.detail ?? ""}`;
        let entry = seen.get(key);
        if (!entry) {
          const tr = doc.createElement("tr");
          tr.dataset.step = step.name;
          tbody.append(tr);
          entry = { tr, signature: "" };
          seen.set(key, entry);
        }
        if (entry.signature === signature) return;
        const outcomeChanged = !entry.signature.startsWith(`${step.outcome}|`);
        entry.signature = signature;
        renderRow(entry.tr, step);
        if (outcomeChanged && step.outcome !== "running") {
          news.push(t("stepAnnounce", { step: stepLabel(step.name), outcome: t(`outcome.${step.outcome}`) }));
        }
      });
      if (news.length) announce.textContent = news.join(". ");
    },

    state(state) {
      const status = t(`status.${state.status}`);
      $("progress-status").textContent = state.message ? `${status}: ${state.message}` : status;
      const s = state.server ?? {};
      const parts = [s.status, s.vm_state, s.task_state].filter((x) => x);
      $("server-state").textContent = parts.length ? parts.join(" · ") : "—";
      const bar = $("progress-bar");
      const building = s.status === "BUILD" && typeof s.progress === "number";
      bar.hidden = !building;
      if (building) bar.value = s.progress;
      this.steps(state.steps ?? []);
    },

    ready(state, { connType, ports, user }) {
      const ip = state.server?.ip ?? "";
      $("address").textContent = ip;
      const list = $("hints");
      const hints = connectionHints(connType, ip, { ports, user });
      if (!hints.length) {
        const li = doc.createElement("li");
        li.textContent = t(connType === "web" ? "desktopBelow" : "connectGeneric");
        list.replaceChildren(li);
      } else {
        list.replaceChildren(
          ...hints.map((h) => {
            const li = doc.createElement("li");
            if (h.kind === "link") {
              const a = doc.createElement("a");
              a.href = h.href;
              a.textContent = h.text;
              li.append(a);
            } else {
              const code = doc.createElement("code");
              code.textContent = h.text;
              li.append(code);
            }
            return li;
          }),
        );
      }
      for (const file of connectionFiles(connType, ip, {
        ports,
        user,
        name: state.server?.id ?? "desktop",
      })) {
        // A file the desktop client opens directly, made here: nothing is fetched for it.
        const li = doc.createElement("li");
        const a = doc.createElement("a");
        a.href = `data:${file.type};charset=utf-8,${encodeURIComponent(file.content)}`;
        a.download = file.name;
        a.className = "download";
        a.textContent = t("downloadFile", { name: file.name });
        li.append(a);
        list.append(li);
      }
      $("progress-bar").hidden = true;
      $("ready").hidden = false;
    },

    failed(err) {
      $("failed-message").textContent = err.message;
      $("failed-code").textContent = err.code ? t("errorCode", { code: err.code }) : "";
      $("progress-bar").hidden = true;
      $("failed").hidden = false;
      if (err.steps?.length) this.steps(err.steps);
    },
  };
}
