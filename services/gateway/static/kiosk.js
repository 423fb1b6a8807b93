// 自助终端: submit an application, supplement 容缺 materials, look up progress by case number and ID number.
"use strict";
(() => {
  document.body.classList.add("kiosk"); // the kiosk's large type (kiosk.css)
  const $ = (sel) => document.querySelector(sel);
  const esc = (text) => window.hall.escape(text);
  const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" }) : "计算中");
  // 暂定: a deadline that rests on a year whose official holiday schedule is not published yet.
  const deadline = (iso, provisional) => (iso && provisional ? `${when(iso)}（暂定，以国务院公布的放假安排为准）` : when(iso));

  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[data-tab]")) other.setAttribute("aria-selected", String(other === tab));
      for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== tab.dataset.tab;
    });
  }

  async function post(url, body, headers = {}) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  // ------------------------------------------------------------ 办事申报
  let item = null;
  let key = "";
  async function findItems() {
    const q = $("#k-find").value.trim();
    const { body } = await window.hall.json(`/api/catalogue?q=${encodeURIComponent(q)}`);
    $("#k-items").innerHTML = body.entries
      .slice(0, 12)
      .map((e) => `<button class="btn" type="button" data-code="${esc(e.code)}">${esc(e.name)}<br><small>${esc(e.promised_text)}</small></button>`)
      .join("");
  }
  $("#k-find").addEventListener("input", findItems);
  $("#k-items").addEventListener("click", async (event) => {
    const button = event.target.closest("[data-code]");
    if (!button) return;
    const { body } = await window.hall.json(`/api/catalogue/${encodeURIComponent(button.dataset.code)}`);
    item = body;
    key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now());
    $("#k-item").textContent = body.name;
    $("#k-materials").innerHTML = body.materials
      .map((m) => `<label><input type="checkbox" value="${esc(m.code)}"> ${esc(m.name)}${m.required ? "" : "（非必备）"}</label>`)
      .join("");
    $("#k-apply").hidden = false;
    $("#k-apply-answer").innerHTML = "";
    $("#k-name").focus();
  });
  $("#k-apply").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      item_code: item.code,
      applicant: { name: $("#k-name").value.trim(), id_type: $("#k-id-type").value, id_number: $("#k-id").value.trim(), phone: $("#k-phone").value.trim() },
      materials: [...document.querySelectorAll("#k-materials input:checked")].map((box) => box.value),
      channel: "kiosk",
    };
    const { status, body: answer } = await post("/api/cases", body, { "idempotency-key": key });
    key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now());
    const out = $("#k-apply-answer");
    if (status === 201) {
      out.innerHTML = `<p class="flash">申请已受理。办件编号：<strong id="k-case-no">${esc(answer.case_no)}</strong>，请凭办件编号和证件号码查询进度。</p>`;
      $("#k-apply").hidden = true;
    } else if (status === 202 && answer.prereview_no) {
      // 预审: a machine does not accept; a window clerk checks the application first.
      out.innerHTML = `<div class="flash"><p>申请已提交，等待窗口人员预审。预审编号：<strong id="k-prereview-no">${esc(answer.prereview_no)}</strong>，请凭预审编号和证件号码查询进度。</p>
        <p>窗口人员将核对：</p><ol id="k-checks">${answer.checks.map((c) => `<li>${esc(c)}</li>`).join("")}</ol></div>`;
      $("#k-apply").hidden = true;
    } else if (status === 200) {
      out.innerHTML = `<div class="notice"><p>材料不全，请一次性补齐以下材料后重新提交：</p><ol>${answer.missing
        .map((m) => `<li>${esc(m.name)}：${esc(m.reason)}</li>`)
        .join("")}</ol></div>`;
    } else {
      out.innerHTML = `<p class="error" role="alert">${esc(answer.detail || "提交失败")}</p>`;
    }
  });

  // ------------------------------------------------------------ 补齐材料
  let found = null;
  async function lookup(caseNo, idNumber) {
    const url = `/api/lookup?case_no=${encodeURIComponent(caseNo)}&id_number=${encodeURIComponent(idNumber)}`;
    const response = await fetch(url, { credentials: "same-origin" });
    return { status: response.status, body: await response.json() };
  }
  $("#k-find-case").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { status, body } = await lookup($("#s-case").value.trim(), $("#s-id").value.trim());
    const out = $("#k-supplement-answer");
    $("#k-supplement").hidden = true;
    if (status !== 200) {
      out.innerHTML = `<p class="error" role="alert">${esc(body.detail)}</p>`;
      return;
    }
    found = body;
    const returned = body.returned || [];
    if (!body.owed.length && !returned.length) {
      out.innerHTML = `<p class="flash">办件 ${esc(body.case_no)} 没有待补齐的材料。</p>`;
      return;
    }
    // 退回补正: every returned material at once, by the return's limit (after it the case is 退件).
    const owed = body.owed.length ? body.owed : returned;
    out.innerHTML = body.owed.length
      ? `<p>补齐期限：${esc(deadline(body.supplement_deadline, body.supplement_provisional))}</p>`
      : `<p id="s-returned">办件已退回补正，请一次补交以下全部材料。补正期限：${esc(when(body.return_deadline))}，逾期未补正将作退件处理。</p>`;
    $("#s-owed").innerHTML = owed.map((m) => `<label><input type="checkbox" value="${esc(m.code)}"> ${esc(m.name)}</label>`).join("");
    $("#k-supplement").hidden = false;
  });
  $("#k-supplement").addEventListener("submit", async (event) => {
    event.preventDefault();
    const materials = [...document.querySelectorAll("#s-owed input:checked")].map((box) => box.value);
    const { status, body } = await post(`/api/cases/${encodeURIComponent(found.case_no)}/materials`, {
      materials,
      id_number: $("#s-id").value.trim(),
    });
    const out = $("#k-supplement-answer");
    if (status === 200 && body.resumed) {
      out.innerHTML = `<p class="flash" id="s-complete">补正材料已收到，办件 ${esc(found.case_no)} 将继续办理。</p>`;
      $("#k-supplement").hidden = true;
    } else if (status === 202) {
      out.innerHTML = `<p class="flash">已提交，正在处理，请稍后查询办件进度。</p>`;
      $("#k-supplement").hidden = true;
    } else if (status === 200) {
      out.innerHTML = body.complete
        ? `<p class="flash" id="s-complete">材料已全部补齐，办件 ${esc(body.case_no)} 将继续办理。</p>`
        : `<p class="flash">已收到，仍待补齐：${body.remaining.map((m) => esc(m.name)).join("、")}</p>`;
      $("#k-supplement").hidden = true;
    } else {
      out.innerHTML = `<p class="error" role="alert">${esc(body.detail || "提交失败")}</p>`;
    }
  });

  // ------------------------------------------------------------ 进度查询
  // The promised time now, in working days ("剩余 1.5 个工作日"), and 暂停 while a special procedure runs.
  const limitNow = (limit) =>
    limit
      ? `<p id="l-limit" class="sla-${esc(limit.status)}">办理时限：${esc(limit.status)}，${esc(limit.remaining)}${limit.paused ? `（${esc(limit.pause_reason || "特别程序")}期间暂停计时）` : ""}</p>`
      : "";
  $("#k-lookup").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { status, body } = await lookup($("#l-case").value.trim(), $("#l-id").value.trim());
    const out = $("#k-lookup-answer");
    if (status !== 200) {
      out.innerHTML = `<p class="error" role="alert">${esc(body.detail)}</p>`;
      return;
    }
    const promised = deadline(body.promised_deadline, body.provisional);
    const revised = body.revised_from && !body.provisional ? `<br><small id="l-revised">（按正式放假安排更正，原为 ${esc(when(body.revised_from))}）</small>` : "";
    out.innerHTML = `<h2 id="l-state">${esc(body.item_name)}：${esc(body.state)}</h2>
      <p>办件编号 ${esc(body.case_no)} · 申请人 ${esc(body.applicant_name)}（${esc(body.id_masked)}）</p>
      ${body.checks && body.checks.length ? `<p>窗口人员将核对：</p><ol id="l-checks">${body.checks.map((c) => `<li>${esc(c)}</li>`).join("")}</ol>` : ""}
      ${body.outcome === "待预审" ? "" : body.outcome === "待补正" ? `<p class="notice">${esc(body.reason)}</p>` : body.outcome === "受理" ? `<p>承诺办结时间：<span id="l-deadline">${esc(promised)}</span>${revised}</p>${limitNow(body.time_limit)}` : `<p>不予受理：${esc(body.reason)}</p>`}
      ${body.owed.length ? `<p class="notice">待补齐材料：${body.owed.map((m) => esc(m.name)).join("、")}（期限 ${esc(deadline(body.supplement_deadline, body.supplement_provisional))}）</p>` : ""}
      ${body.suspended ? `<p class="notice">${esc(body.suspended)}</p>` : ""}
      ${(body.returned || []).length ? `<p class="notice" id="l-returned">退回补正：${body.returned.map((m) => esc(m.name)).join("、")}（期限 ${esc(when(body.return_deadline))}，可在本机“补齐材料”中补交）</p>` : ""}
      <ol>${body.steps.map((s) => `<li>${esc(when(s.at))} ${esc(s.summary)}</li>`).join("")}</ol>`;
  });

  findItems();
})();
