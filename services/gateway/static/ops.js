// 运行监控: the page follows the server's pushes (Server-Sent Events, event "ops") and redraws the services and
// instances (the sparklines come drawn: services/gateway/charts.py's SVG); the dead letters are re-read when their
// count changes; 重新投递 asks first and is safe to repeat.
"use strict";
(() => {
  const esc = (text) => window.hall.escape(text == null ? "" : String(text));
  const num = (v, unit = "") => (v === null || v === undefined ? "—" : `${v}${unit}`);
  const badges = { "正常": "badge-ok", "异常": "badge-warn" };
  const mayReplay = document.getElementById("ops").dataset.mayReplay === "yes";
  let byService = {};
  const serviceRows = (services) => services.length ? services.map((s) => `
    <tr data-service="${esc(s.service)}"><td>${esc(s.service)}</td><td>${s.instances.length}</td><td>${num(s.throughput)}</td>
      <td>${s.throughput_chart}</td><td>${num(s.lag)}</td><td>${s.lag_chart}</td>
      <td>${byService[s.service] || 0}</td></tr>`).join("")
    : `<tr class="empty"><td colspan="7" class="muted">没有登记的服务实例（各进程启动后每 5 秒登记一次）</td></tr>`;
  const instanceRows = (services) => {
    const rows = services.flatMap((s) => s.instances).map((i) => `
    <tr data-instance="${esc(i.instance)}"><td>${esc(i.instance)}</td><td><code>${esc(i.address)}</code></td>
      <td class="state"><span class="${badges[i.state] || "badge-late"}">${esc(i.state)}</span></td>
      <td class="problems">${esc(i.problems.join("；"))}</td><td>${num(i.lag)}</td><td>${num(i.throughput)}</td>
      <td>${i.p99_ms === null ? "—" : `${i.p99_ms} ms <small class="muted">${esc(i.p99_window)}</small>`}</td>
      <td>${num(i.dead_letters)}</td>
      <td>${i.traces_url ? `<a href="${esc(i.traces_url)}" target="_blank" rel="noopener">查看链路</a>` : "—"}</td></tr>`);
    return rows.length ? rows.join("") : `<tr class="empty"><td colspan="9" class="muted">没有登记的服务实例</td></tr>`;
  };
  const letterRow = (l) => `
    <tr data-letter="${esc(l.id)}"><td>${esc(l.failed_at)}</td><td>${esc(l.service)}</td>
      <td><code>${esc(l.topic)}/${l.partition}@${l.offset}</code></td><td>${esc(l.key || "—")}</td><td class="reason">${esc(l.reason)}</td>
      <td class="state">${l.state === "已重新投递"
        ? `<span class="badge-ok">已重新投递</span><br><small>${esc(l.replayed_at || "")} ${esc(l.replayed_by || "")}</small>`
        : (mayReplay ? `<button class="btn" type="button" data-replay="${esc(l.id)}">重新投递</button>` : "待处理")}</td></tr>`;
  const letters = document.querySelector("#letters tbody");
  const more = document.getElementById("letters-more");
  const getJson = async (url, options) => {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, ...options });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
    return body;
  };
  const showLetters = (page, append) => {
    byService = page.by_service || byService;
    document.getElementById("letters-total").textContent = `共 ${page.total} 条`;
    const html = page.items.map(letterRow).join("");
    if (append) letters.insertAdjacentHTML("beforeend", html);
    else letters.innerHTML = html || `<tr class="empty"><td colspan="6" class="muted">没有死信</td></tr>`;
    more.dataset.cursor = page.next_cursor || "";
    more.hidden = !page.next_cursor;
  };
  let lettersTotal = null;
  let lettersWaiting = null;
  const reloadLetters = async () => showLetters(await getJson("/api/ops/deadletters?limit=20"), false);
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      showLetters(await getJson(`/api/ops/deadletters?limit=20&cursor=${encodeURIComponent(more.dataset.cursor)}`), true);
    } catch (error) {
      more.insertAdjacentHTML("afterend", `<span class="error"> 加载失败：${esc(error.message)}</span>`);
    } finally {
      more.disabled = false;
    }
  });
  letters.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-replay]");
    if (!button) return;
    const id = button.dataset.replay;
    if (!window.confirm(`重新投递死信 ${id}？原消息将发回原主题，由对应服务再次处理（同一事件只生效一次）。`)) return;
    button.disabled = true;  // a double click sends one request; the server also publishes once per letter
    button.textContent = "投递中…";
    try {
      const answer = await getJson(`/api/ops/deadletters/${encodeURIComponent(id)}/replay`, { method: "POST" });
      button.closest("tr").outerHTML = letterRow(answer.letter);
    } catch (error) {
      button.disabled = false;
      button.textContent = "重新投递";
      button.insertAdjacentHTML("afterend", `<span class="error"> ${esc(error.message)}</span>`);
    }
  });
  const stuck = document.getElementById("stuck");
  const render = (live) => {
    const services = live.overview.services;
    document.querySelector("#services tbody").innerHTML = serviceRows(services);
    document.querySelector("#instances tbody").innerHTML = instanceRows(services);
    const liveText = document.getElementById("live");
    liveText.textContent = `更新于 ${live.overview.scraped_at}`;
    liveText.classList.remove("off");
    if (lettersTotal !== null && (live.dead_letters_total !== lettersTotal || live.dead_letters_waiting !== lettersWaiting)) {
      reloadLetters().catch(() => {});
    }
    lettersTotal = live.dead_letters_total;
    lettersWaiting = live.dead_letters_waiting;
    document.getElementById("stuck-changed").hidden = String(live.stuck_total) === stuck.dataset.total;
  };
  const source = new EventSource("/api/ops/stream");
  source.addEventListener("ops", (event) => render(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    const live = document.getElementById("live");
    live.textContent = "连接中断，正在重新连接…";
    live.classList.add("off");
  });
  // The first push redraws with the by-service counts the page was rendered with.
  document.querySelectorAll("#services tbody tr[data-service]").forEach((row) => {
    byService[row.dataset.service] = Number(row.lastElementChild.textContent) || 0;
  });
})();
