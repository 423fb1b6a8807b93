// 时限监控: the board follows the server's pushes (Server-Sent Events, event "board") and redraws its sections.
"use strict";
(() => {
  const esc = (text) => window.hall.escape(text);
  const badges = { "正常": "badge-ok", "预警": "badge-warn", "逾期": "badge-late" };
  const pad = (n) => String(n).padStart(2, "0");
  const when = (iso) => {
    // The hall's local time (UTC+8), whatever the browser's zone.
    const d = new Date(new Date(iso).getTime() + 8 * 3600 * 1000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  };
  const years = (list) => (list && list.length ? `${list.join("、")} 年` : "");
  const clockRows = (rows, empty) => rows.length ? rows.map((r) => `
    <tr data-case="${esc(r.case_no)}" data-clock="${esc(r.clock_id)}">
      <td><a href="/sla/cases/${encodeURIComponent(r.case_no)}">${esc(r.case_no)}</a></td>
      <td>${esc(r.purpose)}${r.step_name ? `·${esc(r.step_name)}` : ""}</td><td>${esc(r.item_name)}</td><td>${esc(r.department)}</td><td>${esc(r.owner_name)}</td>
      <td class="deadline">${when(r.deadline)}${r.provisional ? ` <span class="badge-warn provisional" title="${esc(years(r.provisional_years))}放假安排尚未公布">暂定</span>` : ""}${r.correction ? `<br><small class="correction">更正：${esc(r.correction)}${r.revised_from ? `（原期限 ${when(r.revised_from)}）` : ""}</small>` : ""}</td>
      <td class="left">${r.paused ? `暂停计时（${esc(r.pause_reason)}）` : esc(r.remaining)}</td>
      <td class="status"><span class="${badges[r.status]}">${esc(r.status)}</span>${r.escalation ? ` <span class="badge-late">${esc(r.escalation)}</span>` : ""}</td>
    </tr>`).join("") : `<tr class="empty"><td colspan="8" class="muted">${empty}</td></tr>`;
  const countRows = (counts) => counts.length ? counts.map((c) =>
    `<tr><td>${esc(c.name)}</td><td>${c.normal}</td><td>${c.warning}</td><td>${c.overdue}</td><td>${c.paused}</td></tr>`).join("")
    : `<tr class="empty"><td colspan="5" class="muted">暂无计时中的办件</td></tr>`;
  const pct = (rate) => rate === null ? "—" : `${(rate * 100).toFixed(1)}%`;
  const body = (id, html) => { document.querySelector(`#${id} tbody`).innerHTML = html; };
  const empties = { overdue: "没有逾期的办件", warnings: "没有预警的办件", closest: "暂无计时中的办件" };
  // A list the operator paged through (更多) keeps its rows until 收起; the pushes still update its total.
  const expanded = new Set();
  const moreButton = (name) => document.querySelector(`[data-more="${name}"]`);
  const setMore = (name, cursor) => {
    const button = moreButton(name);
    button.dataset.cursor = cursor || "";
    button.hidden = !cursor;
  };
  const showList = (view, name) => {
    document.querySelector(`[data-total="${name}"]`).textContent = `共 ${view[`${name}_total`]} 件`;
    if (expanded.has(name)) return;
    body(name, clockRows(view[name], empties[name]));
    setMore(name, view[`${name}_next`]);
  };

  let lastView = null;
  function render(view) {
    lastView = view;
    // 暂定: the years whose official holiday schedule is not published yet, named until it is loaded.
    const banner = document.getElementById("provisional-banner");
    banner.textContent = view.banner || "";
    banner.hidden = !view.banner;
    for (const [name, value] of Object.entries(view.totals)) {
      const cell = document.querySelector(`#totals [data-count="${name}"]`);
      if (cell) cell.textContent = value;
    }
    for (const name of Object.keys(empties)) showList(view, name);
    body("by-department", countRows(view.by_department));
    body("by-item", countRows(view.by_item));
    body("by-clerk", countRows(view.by_clerk));
    body("rates", view.rates.map((r) =>
      `<tr><td>${esc(r.period)}</td><td>${r.on_time}</td><td>${r.late}</td><td>${pct(r.rate)}</td></tr>`).join(""));
    const live = document.getElementById("live");
    live.dataset.now = view.now;
    live.textContent = `实时更新 · 更新于 ${when(view.now)}`;
    live.classList.remove("off");
  }

  const form = document.getElementById("filter");
  const query = new URLSearchParams(new FormData(form)).toString();
  // 更多: the list's next page (GET /api/sla/lists/{name}), appended; 收起 goes back to the live first page.
  for (const button of document.querySelectorAll("[data-more]")) {
    const name = button.dataset.more;
    const collapse = document.querySelector(`[data-collapse="${name}"]`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "加载中…";
      try {
        const params = new URLSearchParams(query);
        params.set("cursor", button.dataset.cursor);
        const response = await fetch(`/api/sla/lists/${name}?${params}`, { credentials: "same-origin" });
        if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
        const page = await response.json();
        expanded.add(name);
        collapse.hidden = false;
        if (page.rows.length) document.querySelector(`#${name} tbody`).insertAdjacentHTML("beforeend", clockRows(page.rows, ""));
        document.querySelector(`[data-total="${name}"]`).textContent = `共 ${page.total} 件`;
        setMore(name, page.next_cursor);
      } catch (error) {
        button.insertAdjacentHTML("afterend", `<span class="error"> 加载失败：${esc(error.message)}</span>`);
      } finally {
        button.disabled = false;
        button.textContent = "更多";
      }
    });
    collapse.addEventListener("click", () => {
      expanded.delete(name);
      collapse.hidden = true;
      if (lastView) showList(lastView, name);
    });
  }
  const source = new EventSource(`/api/sla/stream?${query}`);
  source.addEventListener("board", (event) => render(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    const live = document.getElementById("live");
    live.textContent = "连接中断，正在重新连接…";
    live.classList.add("off");
  });
})();
