// The Zoom page's live updates (see resources_channel.js): besides the state, each chatbot's
// webhook URL as the connector reports it, to copy into the Zoom App Marketplace.
"use strict";

window.followChannel("zoom", (element, resource, info) => {
  const webhook = element.querySelector("[data-role=webhook]");
  if (!webhook) return;
  const url = info("webhook_url");
  webhook.querySelector("[data-role=webhook-url]").textContent = url;
  webhook.hidden = !url;
});
