// 预审: a clerk accepts, notifies (一次告知) or refuses a kiosk or online submission; the receipt or notice is shown.
"use strict";
(() => {
  const slot = document.querySelector("#prereview-document");

  // The receipt or notice, once the desk's read model has the case (it follows Kafka: a moment after the answer).
  async function showDocument(caseNo) {
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const page = await fetch(`/desk/cases/${encodeURIComponent(caseNo)}/document`, { credentials: "same-origin" });
      if (page.ok) {
        slot.innerHTML = await page.text();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function act(form) {
    const output = form.querySelector("output");
    const action = form.elements.action.value;
    const body = { action, reason: form.elements.reason.value.trim() };
    if (action === "一次告知") {
      body.missing = form.elements.missing.value.split(/[,，\s]+/).filter(Boolean);
    }
    form.querySelector("button").disabled = true;
    try {
      const response = await fetch(`/api/prereviews/${encodeURIComponent(form.dataset.prereviewNo)}/decision`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      if (answer.case_no) {
        output.textContent = `${answer.outcome}：${answer.case_no}`;
        await showDocument(answer.case_no);
      } else if (answer.outcome === "待补正") {
        output.textContent = `待补正（一次告知）${answer.notice_no || ""}：${(answer.missing || []).map((m) => m.name).join("、")}`;
      } else {
        output.textContent = answer.detail || "已提交，处理中";
      }
      form.querySelector("button").disabled = response.status < 300;
    } catch (error) {
      output.textContent = `提交失败：${error}`;
      form.querySelector("button").disabled = false;
    }
  }

  document.querySelectorAll("form.prereview-act").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(form);
    });
  });
})();
