// @ts-check
// The dashboard's shell: sign-in, the navigation, the language switch and the hash router
// (#/overview, #/pools, #/pools/<id>, #/sessions, #/tasks, #/users, #/audit). Everything it shows
// comes from the admin API with the operator's token (api.js).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.js";
import { Audit } from "./audit.js";
import { html } from "./html.js";
import { LANGUAGES, setLanguage, t } from "./i18n.js";
import { Overview } from "./overview.js";
import { PoolDetail } from "./pool-detail.js";
import { Pools } from "./pools.js";
import { Sessions } from "./sessions.js";
import { Tasks } from "./tasks.js";
import { ErrorLine, Field, Notice } from "./ui.js";
import { Users } from "./users.js";

/** @param {{ onSignedIn: (s: any) => void, notice: string | null }} p */
function SignIn({ onSignedIn, notice }) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [domain, setDomain] = useState("Default");
  const [project, setProject] = useState("");
  const [otp, setOtp] = useState("");
  const [needOtp, setNeedOtp] = useState(false);
  const [useToken, setUseToken] = useState(false);
  const [token, setToken] = useState("");
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);

  useEffect(() => document.getElementById(useToken ? "token" : "user")?.focus(), [useToken]);
  useEffect(() => {
    if (needOtp) document.getElementById("otp")?.focus();
  }, [needOtp]);

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = useToken
        ? await api.signIn({ token })
        : await api.signIn({ user, password, domain, project, otp: needOtp ? otp : undefined });
      setPassword("");
      setToken("");
      onSignedIn(s);
    } catch (err) {
      const e2 = /** @type {api.ApiError} */ (err);
      if (e2.otpRequired) setNeedOtp(true);
      setError(
        e2.status === 403
          ? `${t("signin.refused")} ${e2.message}`
          : e2.otpRequired
            ? t("signin.otpNeeded")
            : e2.message,
      );
    } finally {
      setBusy(false);
    }
  }

  return html`<main class="signin">
    <h1>${t("app.title")}</h1>
    <form id="signin" onSubmit=${submit} aria-labelledby="signin-h">
      <h2 id="signin-h">${t("signin.title")}</h2>
      <${Notice} message=${notice} />
      ${
        useToken
          ? html`<div class="field">
            <label for="token">${t("signin.token")}</label>
            <textarea id="token" rows="3" required value=${token} onInput=${(/** @type {any} */ e) => setToken(e.currentTarget.value)}></textarea>
          </div>`
          : html`
          <${Field} id="user" label=${t("signin.user")} value=${user} onInput=${setUser} required autocomplete="username" />
          <${Field} id="password" type="password" label=${t("signin.password")} value=${password} onInput=${setPassword} required autocomplete="current-password" />
          <${Field} id="domain" label=${t("signin.domain")} value=${domain} onInput=${setDomain} required />
          <${Field} id="project" label=${t("signin.project")} value=${project} onInput=${setProject} hint=${t("signin.projectHint")} />
          ${needOtp ? html`<${Field} id="otp" label=${t("signin.otp")} value=${otp} onInput=${setOtp} required autocomplete="one-time-code" />` : null}`
      }
      <${ErrorLine} message=${error} />
      <div class="actions">
        <button type="submit" disabled=${busy}>${t("signin.submit")}</button>
        <button type="button" class="link" onClick=${() => {
          setUseToken(!useToken);
          setError(null);
        }}>
          ${useToken ? t("signin.usePassword") : t("signin.useToken")}
        </button>
      </div>
    </form>
  </main>`;
}

function LanguageSwitch() {
  return html`<div class="lang" role="group" aria-label=${t("lang.label")}>
    ${LANGUAGES.map(
      (l) => html`<button type="button" key=${l} lang=${l} aria-pressed=${document.documentElement.lang === l}
        onClick=${() => setLanguage(l)}>${l.toUpperCase()}</button>`,
    )}
  </div>`;
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return { screen: parts[0] ?? "overview", id: parts[1] };
}

const SCREENS = ["overview", "pools", "sessions", "tasks", "users", "audit"];

function App() {
  const [signedIn, setSignedIn] = useState(/** @type {api.Session | null} */ (null));
  const [notice, setNotice] = useState(/** @type {string | null} */ (null));
  const [where, setWhere] = useState(route());
  const [, setLang] = useState(document.documentElement.lang);

  useEffect(() => {
    const onHash = () => setWhere(route());
    const onLang = () => setLang(document.documentElement.lang);
    addEventListener("hashchange", onHash);
    addEventListener("languagechange-dashboard", onLang);
    api.whenExpired(() => {
      setSignedIn(null);
      setNotice(t("signin.expired"));
    });
    document.body.dataset.ready = "true";
    return () => {
      removeEventListener("hashchange", onHash);
      removeEventListener("languagechange-dashboard", onLang);
    };
  }, []);

  useEffect(() => {
    document.title = `${t(`nav.${where.screen}`)} · ${t("app.title")}`;
    document.getElementById("main")?.focus();
  }, [where.screen, where.id, signedIn]);

  if (!signedIn)
    return html`<div><header class="top slim"><${LanguageSwitch} /></header>
      <${SignIn} notice=${notice} onSignedIn=${(/** @type {api.Session} */ s) => {
        setNotice(null);
        setSignedIn(s);
      }} /></div>`;

  let body;
  if (where.screen === "pools" && where.id) body = html`<${PoolDetail} id=${where.id} key=${where.id} />`;
  else if (where.screen === "pools") body = html`<${Pools} />`;
  else if (where.screen === "sessions") body = html`<${Sessions} />`;
  else if (where.screen === "tasks") body = html`<${Tasks} />`;
  else if (where.screen === "audit") body = html`<${Audit} />`;
  else if (where.screen === "users") body = html`<${Users} id=${where.id} key=${where.id ?? ""} />`;
  else body = html`<${Overview} />`;

  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(/** @type {Event} */ e) => {
      e.preventDefault();
      document.getElementById("main")?.focus();
    }}>${t("nav.skip")}</a>
    <header class="top">
      <span class="brand">${t("app.title")}</span>
      <nav aria-label=${t("nav.label")}>
        <ul>
          ${SCREENS.map(
            (s) =>
              html`<li key=${s}><a href=${`#/${s}`} aria-current=${where.screen === s ? "page" : undefined}>${t(`nav.${s}`)}</a></li>`,
          )}
        </ul>
      </nav>
      <${LanguageSwitch} />
      <span class="who" title=${signedIn.project?.name ?? ""}>${signedIn.user.name}</span>
      <button type="button" onClick=${() => {
        api.signOut();
        setSignedIn(null);
        setNotice(t("signin.signedOut"));
      }}>${t("signin.signOut")}</button>
    </header>
    <main id="main" tabindex="-1">${body}</main>
  </div>`;
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(html`<${App} />`, root);
}
