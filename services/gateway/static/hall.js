// Shared behaviour of every page: access keys shown as <kbd>, and small helpers for the features' scripts.
"use strict";
window.hall = {
  // fetch JSON from the gateway with the page's session cookie; throws an Error carrying the reason.
  async json(url, options = {}) {
    const init = { credentials: "same-origin", headers: { "content-type": "application/json" }, ...options };
    const response = await fetch(url, init);
    const text = await response.text();
    const body = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = new Error((body && (body.detail || body.reason)) || `请求失败（${response.status}）`);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return { status: response.status, body };
  },
  escape(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  },
};
// No inline handlers (the CSP runs the hall's own scripts only): a print button and a select that submits its
// form say so with data attributes.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
document.addEventListener("change", (event) => {
  if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
});
// A list's 下一页 / 第一页 (templates/_pager.html): the link says it is loading until the next page arrives.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-pager]");
  if (!link) return;
  const nav = link.closest(".pager");
  nav.setAttribute("aria-busy", "true");
  nav.querySelectorAll("a[data-pager]").forEach((a) => a.classList.add("disabled"));
  const status = nav.querySelector(".pager-status");
  if (status) status.textContent = "加载中…";
});
