// The Telegram page's live updates (see resources_channel.js): besides the state, each bot's
// @username and link as the connector reports them.
"use strict";

window.followChannel("telegram", (element, resource, info) => {
  const account = element.querySelector("[data-role=account]");
  if (!account) return;
  const username = info("username");
  const link = info("link");
  const safeLink = link.startsWith("https://") ? link : "";
  account.querySelector("[data-role=username]").textContent = username;
  const anchor = account.querySelector("[data-role=link]");
  anchor.hidden = !safeLink;
  anchor.href = safeLink || "#";
  account.hidden = !username && !safeLink;
});
