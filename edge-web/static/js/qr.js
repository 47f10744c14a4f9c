// The QR tool without a reload: the form goes to the JSON API and the code shows in place.
// Without this script the same form posts to /qr, which answers with the code on the page.
"use strict";

const form = document.getElementById("qr-form");
if (form && window.fetch) {
  const button = form.querySelector("button[type=submit]");
  const general = document.getElementById("qr-error");
  const preview = document.getElementById("qr-preview");
  const image = document.getElementById("qr-image");
  const download = document.getElementById("qr-download");
  let objectUrl = null;

  const clearErrors = () => {
    general.hidden = true;
    for (const slot of form.querySelectorAll(".field-error")) slot.hidden = true;
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  };

  // The catalogue's advice for the field at fault, placed under it; anything else above the form.
  const showError = (status, retryAfter, error) => {
    const slot = error && error.field ? document.getElementById(`qr-${error.field}-error`) : null;
    if (slot) {
      slot.textContent = slot.dataset.message;
      slot.hidden = false;
      const input = form.elements.namedItem(error.field);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      return;
    }
    let text = form.dataset.errorInternal;
    if (status === 429) text = form.dataset.errorThrottled.replace("{seconds}", retryAfter || "60");
    else if (status === 503 || status === 0) text = form.dataset.errorUnavailable;
    else if (status === 400) text = form.dataset.errorBadRequest;
    general.textContent = text;
    general.hidden = false;
  };

  const fileName = (response) => {
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return match ? match[1] : "qr-code.png";
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const label = button.textContent;
    form.setAttribute("aria-busy", "true");
    button.disabled = true;
    button.textContent = form.dataset.busy;
    try {
      const response = await fetch(form.dataset.api, { method: "POST", body: new FormData(form) });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        showError(response.status, response.headers.get("Retry-After"), body && body.error);
        return;
      }
      const blob = await response.blob();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(blob);
      image.src = objectUrl;
      download.href = objectUrl;
      download.download = fileName(response);
      preview.hidden = false;
    } catch {
      showError(0, null, null);
    } finally {
      form.removeAttribute("aria-busy");
      button.disabled = false;
      button.textContent = label;
    }
  });
}
