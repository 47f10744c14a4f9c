// The chat without reloads. A message is sent to POST /api/conversations/{id}/messages (a
// conversation is made first with POST /api/conversations when the page has none yet) and the
// reply is shown as its server-sent events arrive, with a button that stops it; "Write the last
// reply again" streams from .../regenerate; "New conversation" calls POST /api/chat/reset. After
// each reply the list and the conversation's head are read again from the page itself, so they
// show what the server renders. Every text shown comes from the page (data-labels) or from the
// server. Without this script the forms post to /chat... and the page comes back with the reply.
"use strict";

(() => {
  const root = document.getElementById("chat");
  const pane = document.getElementById("conversation");
  const list = document.getElementById("messages");
  if (!root || !pane || !list || !window.fetch || !window.ReadableStream || !window.TextDecoder) return;
  const labels = JSON.parse(root.dataset.labels);
  const form = document.getElementById("chat-form");
  const empty = document.getElementById("chat-empty");
  const errorBox = document.getElementById("chat-error");
  const resetForm = document.getElementById("chat-reset");
  const csrf = (document.querySelector("input[name=csrf]") || {}).value || "";
  let busy = false;

  // A copy button under each code block of a reply.
  let blocks = 0;
  const copyButtons = (text) => {
    for (const pre of text.querySelectorAll("pre")) {
      if (pre.nextElementSibling && pre.nextElementSibling.dataset.copy) continue;
      pre.id = pre.id || `code-${++blocks}`;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary copy-code";
      button.dataset.copy = `#${pre.id}`;
      button.textContent = labels["tokens.copy"];
      pre.after(button);
    }
  };
  for (const text of list.querySelectorAll(".markdown")) copyButtons(text);

  // A conversation of another channel is only read here.
  if (!form) return;
  const textarea = form.querySelector("textarea[name=text]");
  const idField = form.querySelector("input[name=client_message_id]");
  const sendButton = form.querySelector("button[type=submit]");
  const stopButton = document.getElementById("chat-stop");

  const newId = () =>
    window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

  // "2026-11-26T13:33:27Z" as the page writes times: "2026-11-26 13:33 UTC".
  const shortTime = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : "");

  const showError = (text) => {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  };

  const scrollDown = () => form.scrollIntoView({ block: "end" });
  const conversationId = () => pane.dataset.id;
  const regenerateForm = () => document.getElementById("chat-regenerate");

  // A message element like the page's own; text only, never HTML.
  const item = (role, text) => {
    const li = document.createElement("li");
    li.className = `message ${role}`;
    const meta = li.appendChild(document.createElement("p"));
    meta.className = "meta";
    const author = meta.appendChild(document.createElement("span"));
    author.className = "author";
    author.textContent = labels[role === "assistant" ? "chat.assistant" : "chat.you"];
    const body = li.appendChild(document.createElement("div"));
    body.className = "text";
    body.textContent = text;
    list.appendChild(li);
    if (empty) empty.hidden = true;
    return li;
  };

  // Fills an element with a stored message: its id, time, text, whether it was stopped, and
  // its failure.
  const fill = (li, message) => {
    li.dataset.id = message.id;
    li.id = `message-${message.id}`;
    li.classList.remove("pending");
    const text = li.querySelector(".text");
    if (message.html !== undefined) {
      // Rendered from the reply's Markdown and sanitised by the server.
      text.innerHTML = message.html;
      text.classList.add("markdown");
      copyButtons(text);
    } else {
      text.textContent = message.text;
    }
    const meta = li.querySelector(".meta");
    meta.replaceChildren(meta.querySelector(".author"));
    if (message.create_time) {
      meta.append(" · ");
      const time = meta.appendChild(document.createElement("time"));
      time.dateTime = message.create_time;
      time.textContent = shortTime(message.create_time);
    }
    if (message.stopped) {
      meta.append(" · ");
      meta.appendChild(document.createElement("span")).className = "stopped";
      meta.lastChild.textContent = labels["chat.stopped"];
    }
    if (message.failure_detail) fail(li, message.failure_detail);
  };

  const fail = (li, text) => {
    let failure = li.querySelector(".failure");
    if (!failure) {
      failure = li.appendChild(document.createElement("p"));
      failure.className = "failure";
    }
    failure.textContent = "";
    failure.appendChild(document.createElement("strong")).textContent = labels["chat.no_reply"];
    failure.append(` ${text}`);
  };

  // Splits a server-sent event stream into {event, data} records.
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      const parts = buffer.replace(/\r\n?/g, "\n").split("\n\n");
      buffer = done ? "" : parts.pop();
      for (const part of parts) {
        let event = "message";
        const data = [];
        for (const line of part.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
      if (done) return;
    }
  }

  const post = (path, body) =>
    fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf, accept: "application/json, text/event-stream" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });

  // The words of a JSON error answer, or ours.
  const errorOf = async (response) => {
    if (response.status === 401) window.location.assign("/login");
    const body = await response.json().catch(() => ({}));
    return (body.error && body.error.message) || labels["chat.connection_lost"];
  };

  const setBusy = (on) => {
    busy = on;
    sendButton.disabled = on;
    form.setAttribute("aria-busy", String(on));
    if (stopButton) stopButton.hidden = !on;
    const regenerate = regenerateForm();
    if (regenerate) regenerate.querySelector("button").disabled = on;
  };

  // Relays one reply's stream into `mine` (the person's message, when it is new) and `reply`;
  // returns {ok} or {error, answered}.
  const relay = async (response, mine, reply) => {
    if (!response.ok || !(response.headers.get("content-type") || "").startsWith("text/event-stream")) {
      return { error: await errorOf(response), answered: true };
    }
    let written = "";
    let outcome = null;
    for await (const { event, data } of events(response)) {
      if (event === "user_message" && mine) fill(mine, data);
      else if (event === "delta") {
        written += data.text;
        reply.querySelector(".text").textContent = written;
      } else if (event === "reply") {
        fill(reply, data);
        outcome = { ok: true };
      } else if (event === "error") {
        outcome = { error: data.message, answered: true };
      }
    }
    return outcome;
  };

  const writing = (reply) => {
    reply.classList.add("pending");
    const note = reply.querySelector(".meta").appendChild(document.createElement("span"));
    note.className = "writing";
    note.textContent = ` · ${labels["chat.sending"]}`;
  };

  // The conversation to send to: the page's, or a new one that is the current one from now on.
  const ensureConversation = async () => {
    if (conversationId()) return { id: conversationId() };
    const response = await post("/api/conversations", {});
    if (!response.ok) return { error: await errorOf(response) };
    const conversation = await response.json();
    pane.dataset.id = conversation.id;
    form.action = `/chat/${conversation.id}`;
    return { id: conversation.id };
  };

  // The list, the head and "regenerate" as the server renders them now.
  const refresh = async () => {
    try {
      const path = pane.dataset.id && window.location.pathname === "/chat" ? `/chat/${pane.dataset.id}` : window.location.pathname;
      const response = await fetch(path + window.location.search, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const swap = (selector, into, where) => {
        const now = document.querySelector(selector);
        const next = fresh.querySelector(selector);
        if (now && next) now.replaceWith(document.importNode(next, true));
        else if (now) now.remove();
        else if (next && into) into.insertAdjacentElement(where, document.importNode(next, true));
      };
      swap("#conversation-list", null);
      swap(".conversations .empty-list", document.getElementById("conversation-list"), "beforebegin");
      swap("#conversation-head", pane, "afterbegin");
      swap("#chat-regenerate", list, "afterend");
    } catch (_) {
      // The page still works; a reload shows the same.
    }
  };

  const send = async () => {
    const text = textarea.value;
    if (busy || !text.trim()) return;
    setBusy(true);
    showError("");
    const mine = item("user", text);
    mine.classList.add("pending");
    const reply = item("assistant", "");
    writing(reply);
    textarea.value = "";
    scrollDown();
    // The same id until the server answers, so a resend after a lost connection is one message.
    const id = idField.value || newId();
    idField.value = id;
    let outcome = null;
    try {
      const conversation = await ensureConversation();
      if (conversation.error) {
        outcome = { error: conversation.error, answered: true };
      } else {
        const response = await post(`/api/conversations/${conversation.id}/messages`, { text, client_message_id: id });
        outcome = await relay(response, mine, reply);
      }
    } catch (_) {
      // The connection broke: the outcome is unknown, and the same id finds it out.
    }
    if (!outcome) outcome = { error: labels["chat.connection_lost"], answered: false };
    if (outcome.ok) {
      idField.value = newId();
    } else {
      reply.remove();
      // A message core never took (say, an empty one) is not part of the conversation.
      if (outcome.answered && !mine.dataset.id) mine.remove();
      else fail(mine, outcome.error);
      showError(outcome.error);
      // The text comes back into the box to send again; a stored failure is sent as a new message.
      if (!textarea.value) textarea.value = text;
      if (outcome.answered) idField.value = newId();
    }
    mine.classList.remove("pending");
    setBusy(false);
    scrollDown();
    textarea.focus();
    if (mine.dataset.id) await refresh();
  };

  // Asks again for the reply to the newest message; the old reply stays until the new one is in.
  const regenerate = async () => {
    const id = conversationId();
    if (busy || !id) return;
    setBusy(true);
    showError("");
    const last = list.lastElementChild;
    const old = last && last.classList.contains("assistant") ? last : null;
    if (old) old.hidden = true;
    const reply = item("assistant", "");
    writing(reply);
    scrollDown();
    let outcome = null;
    try {
      outcome = await relay(await post(`/api/conversations/${id}/regenerate`), null, reply);
    } catch (_) {
      // Below.
    }
    if (outcome && outcome.ok) {
      if (old) old.remove();
      const person = reply.previousElementSibling;
      const failure = person && person.querySelector(".failure");
      if (failure) failure.remove();
    } else {
      reply.remove();
      if (old) old.hidden = false;
      showError((outcome && outcome.error) || labels["chat.connection_lost"]);
    }
    setBusy(false);
    scrollDown();
    await refresh();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });

  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });

  if (stopButton) {
    stopButton.addEventListener("click", async () => {
      const id = conversationId();
      if (!busy || !id) return;
      stopButton.disabled = true;
      // The stream then ends with the reply as far as it was written.
      await post(`/api/conversations/${id}/stop`).catch(() => null);
      stopButton.disabled = false;
    });
  }

  document.addEventListener("submit", (event) => {
    if (event.target.id !== "chat-regenerate") return;
    event.preventDefault();
    regenerate();
  });

  if (resetForm) {
    resetForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      try {
        const response = await post("/api/chat/reset");
        if (!response.ok) throw new Error(String(response.status));
        list.replaceChildren();
        for (const link of pane.querySelectorAll(".older")) link.remove();
        for (const old of pane.querySelectorAll("#conversation-head, #chat-regenerate")) old.remove();
        pane.dataset.id = "";
        form.action = "/chat";
        if (window.location.pathname !== "/chat") window.history.pushState(null, "", "/chat");
        if (empty) empty.hidden = false;
        showError("");
        textarea.focus();
        await refresh();
      } catch (_) {
        showError(labels["chat.reset_failed"]);
      }
    });
  }
})();
