// The dashboard's live refresh: every 30 s, fetch the figures (JSON) and the charts (an HTML fragment the
// server rendered and escaped) and put them in place. Data only ever becomes text (textContent); the fragment
// is parsed by DOMParser, which runs no script, and inserted with replaceChildren. Without this script the
// page still works, with figures as of when it loaded. Refreshing stops after a spell with no one using the
// page, so an unattended screen does not keep a session alive for ever.
"use strict";

(function () {
  const root = document.getElementById("dashboard");
  if (!root || !window.fetch || !window.DOMParser) {
    return;
  }
  const status = document.getElementById("dashboard-refresh");
  const detail = document.getElementById("dashboard-detail");
  const every = (Number(root.dataset.intervalSeconds) || 30) * 1000;
  // Stop a minute before the server would end an idle session.
  const idleLimit = Math.max(1, (Number(root.dataset.idleMinutes) || 30) - 1) * 60 * 1000;
  let lastUsed = Date.now();
  let timer = null;
  let signedOut = false;
  let asOf = status ? status.querySelector("time")?.textContent || "" : "";

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function stop(text) {
    if (timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
    say(text);
  }

  function start() {
    if (timer === null) {
      timer = window.setInterval(refresh, every);
    }
  }

  class SignedOut extends Error {}

  async function get(url, accept) {
    const response = await fetch(url, {
      headers: { Accept: accept },
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
    });
    if (response.type === "opaqueredirect" || response.status === 401 || response.status === 303) {
      throw new SignedOut();
    }
    if (!response.ok) {
      throw new Error("the server answered " + response.status);
    }
    return response;
  }

  function showFigures(data) {
    for (const element of root.querySelectorAll("[data-figure]")) {
      const value = data.figures[element.dataset.figure];
      if (typeof value === "string") {
        element.textContent = value;
      }
    }
    asOf = data.as_of_text;
  }

  function showDetail(html) {
    // A keyboard user inside the tables would lose their place: leave the charts until they move on.
    if (!detail || detail.contains(document.activeElement)) {
      return;
    }
    const parsed = new DOMParser().parseFromString(html, "text/html");
    const fragment = document.createDocumentFragment();
    fragment.append(...parsed.body.childNodes);
    detail.replaceChildren(fragment);
  }

  async function refresh() {
    if (document.hidden) {
      return;
    }
    if (Date.now() - lastUsed > idleLimit) {
      stop("Figures as of " + asOf + ". Refreshing paused because the page has not been used for a while: " +
        "press a key or click to carry on, or reload the page.");
      return;
    }
    try {
      const data = await (await get(root.dataset.dataUrl, "application/json")).json();
      const html = await (await get(root.dataset.fragmentUrl, "text/html")).text();
      showFigures(data);
      showDetail(html);
      say("Figures as of " + asOf + "; they refresh every " + every / 1000 + " seconds.");
    } catch (error) {
      if (error instanceof SignedOut) {
        signedOut = true;
        stop("Your session has ended, so the figures (as of " + asOf + ") no longer refresh. Reload the page to sign in again.");
      } else {
        say("The figures could not be refreshed (" + error.message + "); those shown are as of " + asOf + ". " +
          "The page tries again in " + every / 1000 + " seconds; reload it if this goes on.");
      }
    }
  }

  function used() {
    lastUsed = Date.now();
    if (timer === null && !signedOut) {
      start();
      refresh();
    }
  }

  for (const name of ["keydown", "pointerdown", "wheel", "touchstart"]) {
    window.addEventListener(name, used, { passive: true });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer !== null) {
      refresh();
    }
  });
  say("Figures as of " + asOf + "; they refresh every " + every / 1000 + " seconds.");
  start();
})();
