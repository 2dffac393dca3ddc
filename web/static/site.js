// Progressive enhancement only: every page works without this file.
"use strict";

// City autocomplete from /api/cities (fills the input's datalist). A suggestion reads
// "London, Canada" and carries its city's id, which goes in the hidden city_id field
// while the input still says that suggestion: two Londons stay apart.
function setupAutocomplete(input) {
  const list = document.getElementById(input.getAttribute("list"));
  if (!list) return;
  const cityId = input.form && input.form.querySelector("input[data-city-id]");
  const chosen = new Map();
  let timer = null;
  input.addEventListener("input", () => {
    if (cityId) cityId.value = chosen.get(input.value) || "";
    clearTimeout(timer);
    const prefix = input.value.trim();
    if (prefix.length < 2 || chosen.has(input.value)) return;
    timer = setTimeout(async () => {
      try {
        const url = input.dataset.autocomplete + "?prefix=" + encodeURIComponent(prefix);
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        const body = await response.json();
        list.replaceChildren(...body.items.map((city) => {
          chosen.set(city.label, String(city.id));
          const option = document.createElement("option");
          option.value = city.label;
          if (city.known_as) option.label = city.known_as;
          return option;
        }));
      } catch (_) { /* offline or slow: the plain input still works */ }
    }, 150);
  });
}

// Time left to pay, to the saga's own deadline. The countdown is not a live region; the
// status line after it is told once, when the time has run out, and the card form closes.
function setupCountdown(element) {
  const until = Date.parse(element.getAttribute("datetime"));
  if (Number.isNaN(until)) return;
  const form = document.getElementById(element.dataset.form || "");
  const status = document.getElementById("pay-status");
  const tick = () => {
    const left = Math.max(0, Math.floor((until - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    element.textContent = minutes + ":" + seconds;
    if (left > 0) return;
    clearInterval(timer);
    if (form) form.querySelectorAll("fieldset").forEach((set) => { set.disabled = true; });
    if (status) status.textContent = "The time to pay has run out: this room is no longer held for you.";
  };
  const timer = setInterval(tick, 1000);
  tick();
}

// Live progress from server-sent events; reload for the final page, unless the traveller
// is already on the way to another (a reload then would undo their click).
function setupProgress(list) {
  if (list.dataset.settled === "true" || !window.EventSource) return;
  const source = new EventSource(list.dataset.events);
  let leaving = false;
  window.addEventListener("beforeunload", () => { leaving = true; source.close(); });
  const reload = () => { if (!leaving) window.location.reload(); };
  source.addEventListener("status", (event) => {
    const status = JSON.parse(event.data);
    for (const item of list.querySelectorAll("li[data-step]")) {
      const done = status.steps.includes(item.dataset.step);
      item.classList.toggle("done", done);
      item.classList.toggle("todo", !done);
      const hidden = item.querySelector(".visually-hidden");
      if (hidden) hidden.textContent = done ? ": done" : ": waiting";
    }
    if (status.done || status.state === "FAILED" || status.state === "EXPIRED") {
      source.close();
      reload();
    }
  });
  source.addEventListener("error", () => {
    // The server ends the stream when it gives up: fall back to reloading.
    if (source.readyState === EventSource.CLOSED) setTimeout(reload, 2000);
  });
}

// After a refused form: focus the error summary, and let its links focus their inputs.
function setupErrorSummary(summary) {
  summary.focus();
  summary.querySelectorAll("a[href^='#']").forEach((link) => {
    link.addEventListener("click", (event) => {
      const input = document.getElementById(link.getAttribute("href").slice(1));
      if (!input) return;
      event.preventDefault();
      const fold = input.closest("details");
      if (fold) fold.open = true;
      input.focus();
    });
  });
}

// On a phone the results come first and the stay and filters fold away below them; the
// link above the results unfolds them. Left open when a field in them needs fixing.
function setupFilterFold(fold) {
  const narrow = window.matchMedia("(max-width: 47.99rem)");
  const fit = () => { fold.open = !narrow.matches || fold.hasAttribute("data-keep-open"); };
  fit();
  narrow.addEventListener("change", fit);
  document.querySelectorAll("a.to-filters").forEach((link) => {
    link.addEventListener("click", () => { fold.open = true; });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const summary = document.getElementById("error-summary");
  if (summary) setupErrorSummary(summary);
  document.querySelectorAll("details.filters-fold").forEach(setupFilterFold);
  document.querySelectorAll("input[data-autocomplete]").forEach(setupAutocomplete);
  document.querySelectorAll("[data-countdown]").forEach(setupCountdown);
  document.querySelectorAll("ol.progress[data-events]").forEach(setupProgress);
});
