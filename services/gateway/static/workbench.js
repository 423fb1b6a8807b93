// The workbench and delivery pages: every <form data-api="..."> posts its fields as JSON to the gateway API,
// shows routing's refusal reason, or waits for the change to reach the read model and reloads the page.
"use strict";
(() => {
  const refusal = document.getElementById("refusal");
  const done = document.getElementById("done");

  function show(element, text) {
    if (!element) return;
    element.textContent = text;
    element.hidden = !text;
  }

  function body(form, submitter) {
    const data = {};
    const put = (name, value) => {
      const path = name.split(".");
      let node = data;
      for (const part of path.slice(0, -1)) node = node[part] = node[part] || {};
      node[path[path.length - 1]] = value;
    };
    for (const field of form.elements) {
      if (!field.name || field.type === "submit" || field.disabled) continue;
      if (field.type === "radio" && !field.checked) continue;
      let value = field.value;
      if ("list" in field.dataset) value = value.split(/[\n、;；]+/).map((s) => s.trim()).filter(Boolean);
      else if (field.type === "number") value = Number(value);
      put(field.name, value);
    }
    if (submitter && submitter.name) {
      const value = submitter.value;
      put(submitter.name, value === "true" ? true : value === "false" ? false : value);
    }
    return data;
  }

  // The step's answer once its trail is longer than ``before``: the gateway answers when the step changes
  // (If-None-Match with the last answer's ETag, Prefer: wait), so nothing is asked again and again.
  async function stepChanged(stepId, before, until) {
    let tag = "";
    while (Date.now() < until) {
      const wait = Math.max(1, Math.floor((until - Date.now()) / 1000));
      const headers = tag ? { "If-None-Match": tag, Prefer: `wait=${wait}` } : {};
      const response = await fetch(`/api/steps/${stepId}`, { credentials: "same-origin", headers });
      const waited = response.headers.has("Preference-Applied");
      if (response.status === 200) {
        tag = response.headers.get("ETag") || "";
        if ((await response.json()).records.length > before) return;
      } else if (response.status !== 304) return;
      if (!waited) await new Promise((resolve) => setTimeout(resolve, 200)); // answered at once: not too often
    }
  }

  async function changed(form) {
    // Wait (up to 8 s) until the read model shows the effect, so the reloaded page shows it too.
    const step = form.dataset.api.match(/^\/api\/steps\/([^/]+)/);
    const caseNo = form.dataset.api.match(/^\/api\/deliveries\/([^/]+)/);
    const before = document.querySelectorAll("#trail tbody tr").length;
    if (step) {
      try {
        await stepChanged(step[1], before, Date.now() + 8000);
      } catch (error) {
        /* the reload shows whatever is there */
      }
      return;
    }
    for (let i = 0; i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      try {
        if (caseNo) {
          const { body } = await hall.json("/api/deliveries?limit=200");
          if (!body.items.some((c) => c.case_no === decodeURIComponent(caseNo[1]))) return;
        } else return;
      } catch (error) {
        return;
      }
    }
  }

  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      show(refusal, "");
      const buttons = form.querySelectorAll("button");
      buttons.forEach((b) => (b.disabled = true));
      try {
        const { status } = await hall.json(form.dataset.api, {
          method: "POST",
          body: JSON.stringify(body(form, event.submitter)),
        });
        show(done, status === 202 ? "已提交，正在处理…" : "已办理");
        await changed(form);
        window.location.reload();
      } catch (error) {
        show(refusal, error.message);
        buttons.forEach((b) => (b.disabled = false));
      }
    });
  }
})();
