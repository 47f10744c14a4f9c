// The browser chat without reloads: the form is sent to POST /api/chat/messages and the reply is
// shown as its server-sent events arrive; "New conversation" calls POST /api/chat/reset. Every
// text shown comes from the page (data-labels) or from the server. Without this script the forms
// post to /chat and /chat/reset and the page comes back with the reply.
"use strict";

(() => {
  const root = document.getElementById("chat");
  const form = document.getElementById("chat-form");
  const list = document.getElementById("messages");
  if (!root || !form || !list || !window.fetch || !window.ReadableStream || !window.TextDecoder) return;
  const labels = JSON.parse(root.dataset.labels);
  const textarea = form.querySelector("textarea[name=text]");
  const idField = form.querySelector("input[name=client_message_id]");
  const button = form.querySelector("button[type=submit]");
  const csrf = form.querySelector("input[name=csrf]").value;
  const errorBox = document.getElementById("chat-error");
  const empty = document.getElementById("chat-empty");
  const resetForm = document.getElementById("chat-reset");
  let busy = false;

  const newId = () =>
    window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

  // "2026-11-26T13:33:27Z" as the page writes times: "2026-11-26 13:33 UTC".
  const shortTime = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : "");

  const showError = (text) => {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  };

  const scrollDown = () => form.scrollIntoView({ block: "end" });

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

  // Fills an element with a stored message: its id, time, text and failure.
  const fill = (li, message) => {
    li.dataset.id = message.id;
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
    if (message.create_time && !meta.querySelector("time")) {
      meta.append(" · ");
      const time = meta.appendChild(document.createElement("time"));
      time.dateTime = message.create_time;
      time.textContent = shortTime(message.create_time);
    }
    if (message.failure_detail) fail(li, message.failure_detail);
  };

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
  for (const text of document.querySelectorAll("#messages .markdown")) copyButtons(text);

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
      const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
      buffer = done ? "" : blocks.pop();
      for (const block of blocks) {
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
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

  const setBusy = (on) => {
    busy = on;
    button.disabled = on;
    form.setAttribute("aria-busy", String(on));
  };

  const send = async () => {
    const text = textarea.value;
    if (busy || !text.trim()) return;
    setBusy(true);
    showError("");
    const mine = item("user", text);
    mine.classList.add("pending");
    const reply = item("assistant", "");
    reply.classList.add("pending");
    const writing = reply.querySelector(".meta").appendChild(document.createElement("span"));
    writing.className = "writing";
    writing.textContent = ` · ${labels["chat.sending"]}`;
    textarea.value = "";
    scrollDown();
    // The same id until the server answers, so a resend after a lost connection is one message.
    const id = idField.value || newId();
    idField.value = id;
    let outcome = null;
    try {
      const response = await fetch("/api/chat/messages", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrf, accept: "text/event-stream" },
        body: JSON.stringify({ text, client_message_id: id }),
        credentials: "same-origin",
      });
      if (!response.ok || !(response.headers.get("content-type") || "").startsWith("text/event-stream")) {
        const body = await response.json().catch(() => ({}));
        outcome = { error: (body.error && body.error.message) || labels["chat.connection_lost"], answered: true };
        if (response.status === 401) window.location.assign("/login");
      } else {
        let written = "";
        for await (const { event, data } of events(response)) {
          if (event === "user_message") fill(mine, data);
          else if (event === "delta") {
            written += data.text;
            reply.querySelector(".text").textContent = written;
          } else if (event === "reply") {
            writing.remove();
            fill(reply, data);
            outcome = { ok: true };
          } else if (event === "error") {
            outcome = { error: data.message, answered: true };
          }
        }
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

  if (resetForm) {
    resetForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      try {
        const response = await fetch("/api/chat/reset", {
          method: "POST",
          headers: { "x-csrf-token": csrf },
          credentials: "same-origin",
        });
        if (!response.ok) throw new Error(String(response.status));
        list.replaceChildren();
        for (const link of root.querySelectorAll(".older")) link.remove();
        if (empty) empty.hidden = false;
        showError("");
        textarea.focus();
      } catch (_) {
        showError(labels["chat.reset_failed"]);
      }
    });
  }
})();
