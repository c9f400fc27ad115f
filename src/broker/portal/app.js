// The portal's flow: sign in (one-time code when the broker answers 27, a project picker when
// the user has several), ask for a desktop and follow it, change the password. The token and
// the password stay in this module's memory only: nothing is stored, nothing goes in the URL.
import { createBrokerClient, OTP_REQUIRED, PASSWORD_EXPIRED, PortalError } from "./broker-client.js";
import { createDesktop } from "./desktop.js";
import { createProgressView } from "./progress-view.js";
import { pickLang, translator } from "./strings.js";

const doc = document;
const $ = (id) => doc.getElementById(id);
const lang = pickLang(navigator.languages?.length ? navigator.languages : [navigator.language]);
const t = translator(lang);
const client = createBrokerClient({
  baseUrl: new URL("../", location.href),
  lang,
  unreachableMessage: t("unreachable"),
});
const progress = createProgressView(doc, t, lang);
const desktop = createDesktop({ doc, client, t, location, navigator });
const CLIENT_NAME = "RS web portal 1.0";

let ports = {};
// Projects of the credentials last checked; forgotten as soon as any of them changes.
let projects = null;
let polling = null;

function translatePage() {
  doc.documentElement.lang = lang;
  for (const el of doc.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

function show(view, { focus = true } = {}) {
  for (const id of ["view-signin", "view-progress", "view-change"]) $(id).hidden = id !== view;
  if (focus) $(view).querySelector("h2").focus();
}

function option(name) {
  const el = doc.createElement("option");
  el.value = name;
  el.textContent = name;
  return el;
}

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", String(on));
}

async function loadConnTypes() {
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    const config = await res.json();
    ports = config.connTypes ?? {};
  } catch {
    ports = {};
  }
  $("conn-type").append(...Object.keys(ports).map(option));
}

const creds = () => ({
  user: $("user").value.trim(),
  password: $("password").value,
  domain: $("domain").value.trim() || "Default",
  otp: $("otp").value,
});

function forgetProjects() {
  projects = null;
  $("project-field").hidden = true;
  $("project").replaceChildren();
}

function askForOtp() {
  $("otp-field").hidden = false;
  $("otp").required = true;
  $("signin-error").textContent = t("otpNeeded");
  $("otp").focus();
}

function showProjects(names) {
  const select = $("project");
  select.replaceChildren(...names.map(option));
  $("project-field").hidden = false;
  $("signin-error").textContent = t("projectChoose");
  select.focus();
}

function signInFailed(err) {
  if (err instanceof PortalError && err.code === OTP_REQUIRED) return askForOtp();
  const expired = err instanceof PortalError && err.code === PASSWORD_EXPIRED;
  $("signin-error").textContent = expired ? `${err.message} ${t("expiredChange")}` : err.message;
  if (expired) {
    openChangePassword();
    $("change-error").textContent = t("expiredChange");
  }
}

async function signIn(event) {
  event.preventDefault();
  const button = $("signin-submit");
  const c = creds();
  $("signin-error").textContent = "";
  $("notice").textContent = "";
  busy(button, true);
  try {
    if (projects === null) {
      projects = await client.getProjects(c);
      if (projects.length > 1) return showProjects(projects);
    }
    const project = projects.length > 1 ? $("project").value : projects[0];
    const started = await client.requestVm(c, {
      auth_tenant: project,
      conn_type: $("conn-type").value,
      client: CLIENT_NAME,
    });
    $("password").value = "";
    $("otp").value = "";
    forgetProjects();
    follow(started, { connType: $("conn-type").value, user: c.user, domain: c.domain });
  } catch (err) {
    if (!(err instanceof PortalError) || err.code !== OTP_REQUIRED) forgetProjects();
    signInFailed(err);
  } finally {
    busy(button, false);
  }
}

function showWarning(warning, who) {
  const box = $("warning");
  box.hidden = !warning;
  if (!warning) return;
  $("warning-text").textContent = warning.message;
  $("warning-change").onclick = () => openChangePassword(who);
}

/** Follows a started request until its desktop is ready or it fails; the token dies with it. */
async function follow({ requestId, token, warning }, who) {
  progress.reset();
  $("progress-h").textContent = t("progressHeading");
  showWarning(warning, who);
  show("view-progress");
  const controller = new AbortController();
  polling = controller;
  try {
    const done = await client.waitForVm(token, requestId, {
      intervalMs: 1000,
      signal: controller.signal,
      onUpdate: (state) => progress.state(state),
    });
    progress.ready(done, { connType: who.connType, ports, user: who.user });
    $("progress-h").textContent = t("readyHeading");
    // conn_type web: the desktop itself, in this page.
    if (who.connType === "web") void desktop.open(token, requestId);
  } catch (err) {
    if (controller.signal.aborted) return;
    progress.failed(err instanceof PortalError ? err : new PortalError(1, String(err)));
    $("progress-h").textContent = t("failedHeading");
  } finally {
    if (polling === controller) polling = null;
  }
  $("progress-h").focus();
}

function backToSignIn() {
  desktop.close();
  polling?.abort();
  polling = null;
  show("view-signin");
}

function openChangePassword(who) {
  $("c-user").value = who?.user ?? $("user").value;
  $("c-domain").value = who?.domain ?? $("domain").value;
  for (const id of ["c-old", "c-new", "c-confirm"]) $(id).value = "";
  $("change-error").textContent = "";
  polling?.abort();
  polling = null;
  show("view-change");
}

async function changePassword(event) {
  event.preventDefault();
  const error = $("change-error");
  const password = $("c-old").value;
  const newPassword = $("c-new").value;
  error.textContent = "";
  if (newPassword !== $("c-confirm").value) {
    error.textContent = t("mismatch");
    return $("c-confirm").focus();
  }
  if (newPassword === password) {
    error.textContent = t("sameAsOld");
    return $("c-new").focus();
  }
  const button = $("change-submit");
  busy(button, true);
  try {
    const message = await client.changePassword({
      user: $("c-user").value.trim(),
      domain: $("c-domain").value.trim(),
      password,
      newPassword,
    });
    for (const id of ["c-old", "c-new", "c-confirm", "password"]) $(id).value = "";
    $("user").value = $("c-user").value.trim();
    $("domain").value = $("c-domain").value.trim();
    forgetProjects();
    $("signin-error").textContent = "";
    show("view-signin", { focus: false });
    $("notice").textContent = message;
    $("password").focus();
  } catch (err) {
    const reason = err instanceof PortalError && typeof err.data?.reason === "string" ? err.data.reason : "";
    error.textContent = reason ? `${err.message} ${reason}` : err.message;
  } finally {
    busy(button, false);
  }
}

translatePage();
for (const id of ["user", "password", "domain"]) $(id).addEventListener("input", forgetProjects);
$("signin").addEventListener("submit", signIn);
$("change").addEventListener("submit", changePassword);
$("to-change").addEventListener("click", () => openChangePassword());
$("change-cancel").addEventListener("click", () => show("view-signin"));
$("back").addEventListener("click", backToSignIn);
await loadConnTypes();
doc.body.dataset.ready = "true";
$("user").focus();
