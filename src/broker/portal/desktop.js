// The web desktop: for conn_type "web", the desktop opens in the page through noVNC (served by
// the broker at ./novnc/) over the broker's WebSocket gateway. Each connection asks the broker
// for a fresh single-use console ticket (the token stays in memory, as everywhere in the
// portal); reconnecting asks for another. A pool on Nova's own console gets a link to it.
import RFB from "./novnc/core/rfb.js";

/** ws(s)://…/v1/console-gateway?ticket=… beside the portal (a proxy's path prefix is kept). */
export function gatewayUrl(path, pageUrl) {
  const url = new URL(`..${path}`, pageUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/** The browser's OS and name for the session the connection records. */
export function clientInfo(nav) {
  const ua = nav.userAgent ?? "";
  const os =
    nav.userAgentData?.platform ||
    (/Windows/.test(ua)
      ? "Windows"
      : /Mac OS X/.test(ua)
        ? "macOS"
        : /Android/.test(ua)
          ? "Android"
          : /Linux/.test(ua)
            ? "Linux"
            : "");
  return { os: os || undefined, client: `RS web portal 1.0 (${ua.slice(0, 200)})` };
}

export function createDesktop({ doc, client, t, location, navigator: nav }) {
  const $ = (id) => doc.getElementById(id);
  const screen = $("screen");
  const status = $("desktop-status");
  let rfb = null;
  let target = null;
  let wanted = false;

  const say = (key, vars) => {
    status.textContent = t(key, vars);
    status.dataset.state = key;
  };

  function buttons(connected) {
    for (const id of ["desktop-cad", "desktop-disconnect", "desktop-paste", "desktop-fullscreen"]) {
      $(id).disabled = !connected;
    }
    $("desktop-reconnect").hidden = connected || !target;
  }

  async function connect() {
    if (!target) return;
    wanted = true;
    say("desktopConnecting");
    buttons(false);
    let access;
    try {
      access = await client.consoleTicket(target.token, target.requestId, clientInfo(nav));
    } catch (err) {
      say("desktopFailed", { reason: err.message });
      buttons(false);
      return;
    }
    if (access.kind === "nova") {
      const a = $("desktop-nova");
      a.href = access.url;
      a.hidden = false;
      say("desktopNova");
      $("desktop-reconnect").hidden = true;
      return;
    }
    screen.replaceChildren();
    rfb = new RFB(screen, gatewayUrl(access.path, location.href), { shared: true });
    rfb.scaleViewport = $("desktop-scale").checked;
    rfb.resizeSession = false;
    rfb.focusOnClick = true;
    rfb.addEventListener("connect", () => {
      say("desktopConnected");
      buttons(true);
      $("desktop").scrollIntoView({ block: "start" });
      rfb.focus();
    });
    rfb.addEventListener("disconnect", () => {
      rfb = null;
      // Not asked for by the user: the desktop or the network ended it; offer to reconnect.
      say(wanted ? "desktopLost" : "desktopDisconnected");
      buttons(false);
    });
    rfb.addEventListener("securityfailure", (e) => say("desktopFailed", { reason: e.detail.reason ?? "" }));
    rfb.addEventListener("credentialsrequired", () => {
      // The desktop's VNC server asks for a password of its own (VNC authentication).
      const password = $("desktop-vnc-password").value;
      if (password) rfb.sendCredentials({ password });
      else {
        $("desktop-vnc-field").hidden = false;
        say("desktopPassword");
      }
    });
    rfb.addEventListener("clipboard", (e) => {
      $("desktop-clipboard").value = e.detail.text;
    });
    rfb.addEventListener("desktopname", (e) => {
      $("desktop-name").textContent = e.detail.name;
    });
  }

  function disconnect() {
    wanted = false;
    rfb?.disconnect();
  }

  $("desktop-reconnect").addEventListener("click", connect);
  $("desktop-disconnect").addEventListener("click", disconnect);
  $("desktop-cad").addEventListener("click", () => rfb?.sendCtrlAltDel());
  $("desktop-paste").addEventListener("click", () => {
    rfb?.clipboardPasteFrom($("desktop-clipboard").value);
    rfb?.focus();
  });
  $("desktop-scale").addEventListener("change", (e) => {
    if (rfb) rfb.scaleViewport = e.target.checked;
  });
  $("desktop-fullscreen").addEventListener("click", () => $("desktop").requestFullscreen?.());
  $("desktop-vnc-password").addEventListener("change", (e) => {
    if (rfb && e.target.value) rfb.sendCredentials({ password: e.target.value });
  });

  return {
    /** Shows the desktop panel and connects to the request's desktop. */
    open(token, requestId) {
      target = { token, requestId };
      $("desktop").hidden = false;
      doc.body.classList.add("desktop-open");
      $("desktop-nova").hidden = true;
      return connect();
    },
    /** Disconnects and forgets the request (back to sign in). */
    close() {
      disconnect();
      target = null;
      $("desktop").hidden = true;
      doc.body.classList.remove("desktop-open");
      screen.replaceChildren();
    },
  };
}
