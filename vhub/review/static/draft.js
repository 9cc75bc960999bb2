// The draft page: back to the field being edited after Save, "use mine" after a stale save, and keyboard
// shortcuts (N next item, A approve, R return for a data fix), never while typing in a field. Without this
// script every button and form on the page still works; only the shortcuts and the return to the field go.
"use strict";

(function () {
  const form = document.getElementById("draft-form");
  const focusField = document.getElementById("focus-field");

  function field(name) {
    return form ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
  }

  function reveal(element) {
    // A field inside a folded group (the referrer) opens its group before it is focused.
    for (let node = element.parentElement; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") {
        node.open = true;
      }
    }
  }

  function focusOn(element) {
    reveal(element);
    element.focus({ preventScroll: true });
    // Centred, so the decision bar at the top of the window never covers it.
    element.scrollIntoView({ block: "center" });
  }

  // Save: remember which field the person was in, so the page that comes back puts them there again.
  if (form && focusField) {
    let last = "";
    form.addEventListener("focusin", (event) => {
      const target = event.target;
      if (target && target.name && target !== focusField && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
        last = target.name;
      }
    });
    form.addEventListener("submit", () => {
      focusField.value = last;
    });
    const wanted = new URLSearchParams(window.location.search).get("focus");
    const element = wanted ? field(wanted) : null;
    if (element) {
      focusOn(element);
    }
  }

  // A field refused on Save or Approve: go to the first one marked.
  const invalid = form ? form.querySelector('[aria-invalid="true"]') : null;
  if (invalid) {
    focusOn(invalid);
  }

  // After a stale save: put back what the person typed, one field or all.
  function useMine(button) {
    const element = field(button.dataset.path);
    if (!element) {
      return;
    }
    reveal(element);
    element.value = button.dataset.value;
    button.textContent = "Yours is in the form";
    button.disabled = true;
  }
  document.querySelectorAll("button.use-mine").forEach((button) => {
    button.addEventListener("click", () => useMine(button));
  });
  const all = document.getElementById("use-all-mine");
  if (all) {
    all.addEventListener("click", () => {
      document.querySelectorAll("button.use-mine:not([disabled])").forEach(useMine);
    });
  }

  // Keyboard shortcuts. Never while typing (a field, a select, anything editable), never with a modifier held
  // (the browser's own shortcuts), never when a key already did something.
  function typing(target) {
    return Boolean(target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)));
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.repeat || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (typing(event.target)) {
      return;
    }
    const key = event.key.toLowerCase();
    if (key === "n") {
      const next = document.getElementById("next-item");
      if (next) {
        event.preventDefault();
        window.location.assign(next.href);
      }
    } else if (key === "a") {
      const approve = document.getElementById("approve");
      if (approve && form && !approve.disabled) {
        event.preventDefault();
        // One key is easily pressed by mistake: ask, in the button's own words, then do exactly what the button
        // does (the same submitter, so the same checks and the same decision).
        const words = approve.textContent.trim().replace(/\s+/g, " ");
        if (window.confirm(`${words}: ${document.title.split(" — ")[0]}?`)) {
          form.requestSubmit(approve);
        }
      }
    } else if (key === "r") {
      const more = document.getElementById("other-decisions");
      const reason = document.getElementById("return-reason");
      if (more && reason) {
        event.preventDefault();
        more.open = true;
        reason.focus();
      }
    }
  });
})();
