// What the channels' pages (/resources/telegram, /resources/zoom) share for their live updates.
// followChannel(provider, showInfo) follows the bot's status (GET /api/bot/events) and updates,
// in place, each resource of that provider marked data-resource="<id>": its state, what went
// wrong and what to do, whether it offers Activate or Pause, and what the connector reports
// about it (showInfo(element, resource, info) shows that); and the bot's switch. Without it the
// page is the same after a reload.
"use strict";

window.followChannel = (provider, showInfo) => {
  const root = document.getElementById("live");
  if (!root || !window.EventSource) return;
  const labels = JSON.parse(root.dataset.labels);

  const info = (resource, key) => {
    const item = (resource.status_info || []).find((entry) => entry.key === key);
    return item && item.value ? item.value : "";
  };

  const detailText = (resource) =>
    labels[`${provider}.reason.${resource.state_reason}`] || labels[`reason.${resource.state_reason}`] || resource.state_detail;

  const showState = (element, resource) => {
    element.dataset.state = resource.state;
    const badge = element.querySelector("[data-role=badge]");
    if (badge) {
      badge.className = `badge state-${resource.state}`;
      badge.textContent = labels[`state.${resource.state}`] || resource.state;
    }
    const detail = element.querySelector("[data-role=detail]");
    if (detail) detail.textContent = detailText(resource);
    const action = element.querySelector("[data-role=action]");
    if (action) {
      const name = resource.state === "error" ? resource.state_action : null;
      const text = name ? labels[`${provider}.action.${name}`] || labels[`action.${name}`] : "";
      action.textContent = text || "";
      action.hidden = !text;
    }
  };

  const showToggle = (element, resource) => {
    const form = element.querySelector("form[data-role=toggle]");
    if (!form) return;
    const paused = resource.desired_state === "paused";
    form.action = `/resources/${encodeURIComponent(resource.id)}/${paused ? "activate" : "pause"}`;
    const button = form.querySelector("button");
    button.textContent = labels[paused ? "resource.activate" : "resource.pause"];
    button.classList.toggle("secondary", !paused);
  };

  const show = (resource) => {
    if (resource.provider !== provider) return;
    for (const element of document.querySelectorAll(`[data-resource="${CSS.escape(resource.id)}"]`)) {
      showState(element, resource);
      showInfo(element, resource, (key) => info(resource, key));
      showToggle(element, resource);
    }
  };

  const counts = (resources) => {
    const byState = { ready: 0, pending: 0, error: 0, paused: 0 };
    for (const resource of resources.values()) if (resource.state in byState) byState[resource.state] += 1;
    for (const element of document.querySelectorAll("[data-count]")) element.textContent = byState[element.dataset.count];
  };

  const showBot = (enabled) => {
    const card = document.getElementById("bot");
    if (!card || card.dataset.enabled === String(enabled)) return;
    card.dataset.enabled = String(enabled);
    card.querySelector("[data-role=bot-state]").textContent = labels[enabled ? "bot.on" : "bot.off"];
    card.querySelector("input[name=enabled]").value = String(!enabled);
    card.querySelector("button[type=submit]").textContent = labels[enabled ? "bot.stop" : "bot.start"];
  };

  // Every resource of the user, for the switch's counts; only this provider's are shown.
  const known = new Map();
  const events = new EventSource("/api/bot/events");
  events.addEventListener("snapshot", (event) => {
    const status = JSON.parse(event.data);
    known.clear();
    for (const resource of status.resources) {
      known.set(resource.id, resource);
      show(resource);
    }
    counts(known);
    showBot(status.enabled);
  });
  events.addEventListener("resource_changed", (event) => {
    const resource = JSON.parse(event.data);
    known.set(resource.id, resource);
    show(resource);
    counts(known);
  });
  events.addEventListener("resource_deleted", (event) => {
    const { id } = JSON.parse(event.data);
    known.delete(id);
    for (const element of document.querySelectorAll(`[data-resource="${CSS.escape(id)}"]`)) element.classList.add("deleted");
    counts(known);
  });
  window.addEventListener("pagehide", () => events.close());
};
