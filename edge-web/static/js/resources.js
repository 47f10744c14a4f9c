// Follows the bot's status (GET /api/bot/events) and updates, in place, every element marked
// data-resource="<id>" (badge, detail, what to do) and the counts of the bot's card. Without it
// the page is the same after a reload.
"use strict";

(() => {
  const root = document.getElementById("live");
  if (!root || !window.EventSource) return;
  const labels = JSON.parse(root.dataset.labels);
  const known = new Map();

  const show = (resource) => {
    known.set(resource.id, resource);
    for (const element of document.querySelectorAll(`[data-resource="${CSS.escape(resource.id)}"]`)) {
      element.dataset.state = resource.state;
      const badge = element.querySelector("[data-role=badge]");
      if (badge) {
        badge.className = `badge state-${resource.state}`;
        badge.textContent = labels[`state.${resource.state}`] || resource.state;
      }
      const detail = element.querySelector("[data-role=detail]");
      if (detail) detail.textContent = labels[`reason.${resource.state_reason}`] || resource.state_detail;
      const action = element.querySelector("[data-role=action]");
      if (action) {
        const text = resource.state === "error" && resource.state_action ? labels[`action.${resource.state_action}`] : "";
        action.textContent = text || "";
        action.hidden = !text;
      }
    }
  };

  const count = () => {
    const counts = { ready: 0, pending: 0, error: 0, paused: 0 };
    for (const resource of known.values()) if (resource.state in counts) counts[resource.state] += 1;
    for (const element of document.querySelectorAll("[data-count]")) element.textContent = counts[element.dataset.count];
  };

  const showBot = (enabled) => {
    const card = document.getElementById("bot");
    if (!card || card.dataset.enabled === String(enabled)) return;
    card.dataset.enabled = String(enabled);
    card.querySelector("[data-role=bot-state]").textContent = labels[enabled ? "bot.on" : "bot.off"];
    card.querySelector("input[name=enabled]").value = String(!enabled);
    card.querySelector("button[type=submit]").textContent = labels[enabled ? "bot.stop" : "bot.start"];
  };

  const events = new EventSource("/api/bot/events");
  events.addEventListener("snapshot", (event) => {
    const status = JSON.parse(event.data);
    known.clear();
    status.resources.forEach(show);
    count();
    showBot(status.enabled);
  });
  events.addEventListener("resource_changed", (event) => {
    show(JSON.parse(event.data));
    count();
  });
  events.addEventListener("resource_deleted", (event) => {
    const { id } = JSON.parse(event.data);
    known.delete(id);
    for (const element of document.querySelectorAll(`[data-resource="${CSS.escape(id)}"]`)) element.classList.add("deleted");
    count();
  });
  window.addEventListener("pagehide", () => events.close());
})();
