// 一窗受理: find an item, fill the application with a live checklist, submit, show and print the document.
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const esc = (text) => window.hall.escape(text);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ------------------------------------------------------------ the printed document of a case (receipt / notice)

  // Shows /desk/cases/{no}/document in the slot, again and again while a deadline is still 计算中.
  async function showDocument(slot, caseNo, first = true) {
    const started = Date.now();
    let waited = 0;
    while (Date.now() - started < 60000) {
      const response = await fetch(`/desk/cases/${encodeURIComponent(caseNo)}/document`, { credentials: "same-origin" });
      if (response.ok) {
        slot.innerHTML = await response.text();
        if (!$("[data-pending]", slot)) return;
      } else if (first && waited === 0) {
        slot.innerHTML = `<p class="panel muted">回执生成中…（办件编号 ${esc(caseNo)}）</p>`;
      }
      waited += 1;
      await sleep(response.ok ? 500 : 150);
    }
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-print]")) window.print();
  });

  const caseSlot = $("#document-slot[data-case-no]");
  if (caseSlot && $("[data-pending]", caseSlot)) showDocument(caseSlot, caseSlot.dataset.caseNo, false);

  const desk = $("#desk");
  if (!desk) return;

  // ------------------------------------------------------------ finding an item or a bundle

  const find = $("#find");
  const matches = $("#matches");
  const form = $("#application");
  let selected = null; // the catalogue entry being filled in
  let active = -1;
  let lastBody = "";
  let idemKey = "";

  async function search() {
    const q = find.value.trim();
    const { body } = await window.hall.json(`/api/catalogue?q=${encodeURIComponent(q)}`);
    if (find.value.trim() !== q) return; // typed on meanwhile
    matches.innerHTML = body.entries
      .map(
        (e, i) => `<li role="option" id="opt-${i}" data-code="${esc(e.code)}" aria-selected="${i === 0}">
          <span class="kind">${esc(e.kind)} · ${esc(e.code)}</span><br>${esc(e.name)}
          <span class="muted">${esc(e.departments.join("、"))} · ${esc(e.promised_text)}</span></li>`,
      )
      .join("") || `<li class="muted">没有相符的事项</li>`;
    active = body.entries.length ? 0 : -1;
  }

  function highlight(index) {
    const options = [...matches.querySelectorAll("[data-code]")];
    if (!options.length) return;
    active = (index + options.length) % options.length;
    options.forEach((o, i) => o.setAttribute("aria-selected", String(i === active)));
    options[active].scrollIntoView({ block: "nearest" });
    find.setAttribute("aria-activedescendant", options[active].id);
  }

  let timer = 0;
  find.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 120);
  });
  find.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
    if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
    if (event.key === "Enter") {
      event.preventDefault();
      const option = matches.querySelectorAll("[data-code]")[Math.max(active, 0)];
      if (option) choose(option.dataset.code);
    }
  });
  matches.addEventListener("click", (event) => {
    const option = event.target.closest("[data-code]");
    if (option) choose(option.dataset.code);
  });

  // ------------------------------------------------------------ the application form and its live checklist

  function tags(m) {
    const t = [m.required ? `<span class="tag tag-key">必备</span>` : `<span class="tag">非必备</span>`];
    if (m.deferrable) t.push(`<span class="tag">可容缺</span>`);
    if (m.commitment) t.push(`<span class="tag">可承诺</span>`);
    if (m.reusable) t.push(`<span class="tag">可复用</span>`);
    if (m.originals) t.push(`<span class="tag">原件${m.originals}</span>`);
    if (m.copies) t.push(`<span class="tag">复印件${m.copies}</span>`);
    return t.join("");
  }

  async function choose(code) {
    const { body: e } = await window.hall.json(`/api/catalogue/${encodeURIComponent(code)}`);
    selected = e;
    $("#intro").hidden = true;
    $("#result").hidden = true;
    form.hidden = false;
    $("#item-title").textContent = `${e.name}（${e.kind}）`;
    $("#item-meta").textContent = [
      e.code,
      e.department,
      e.case_type_name,
      `承诺时限 ${e.promised_text}`,
      `通办范围 ${e.scope}`,
      e.level_name,
    ].join(" · ");
    $("#parts").innerHTML = e.parts.length
      ? `<table class="list" id="bundle-parts"><thead><tr><th>阶段</th><th>子项</th><th>实施主体</th><th>承诺时限</th></tr></thead><tbody>${e.parts
          .map((p) => `<tr><td>${p.stage_name ? `${p.stage} ${esc(p.stage_name)}` : "并联办理"}</td><td>${esc(p.item_name)}</td><td>${esc(p.department)}</td><td>${esc(p.promised_text)}</td></tr>`)
          .join("")}</tbody></table>`
      : "";
    $("#checklist").innerHTML = "";
    renderChecklist(e.materials);
    const deferrable = e.materials.some((m) => m.deferrable);
    $("#deferral-box").hidden = !deferrable;
    $("#commitment-box").hidden = !e.materials.some((m) => m.commitment);
    $("#deferral").checked = false;
    $("#commitment").checked = false;
    $("#supplement-days").value = "";
    $("#supplement-unit").textContent = unitName(e.promised_limit && e.promised_limit.unit);
    $("#promised-text").textContent = e.promised_text;
    $("#refusal-box").hidden = true;
    $("#refusal-reason").value = "";
    showError("");
    refresh();
    $("#applicant-name").focus();
  }

  // The checklist shown: the catalogue's form until the assessment answers with the one it checked (an agent named
  // makes the 授权委托书 required, added when the item does not list it: the gateway says so, as intake does).
  let shownForm = [];
  function hasAgent() {
    return $("#has-agent").checked;
  }
  function renderChecklist(lines) {
    const have = new Set(checked());
    shownForm = lines;
    $("#checklist").innerHTML = lines
      .map(
        (m) => `<li><input type="checkbox" id="m-${esc(m.code)}" data-code="${esc(m.code)}"${have.has(m.code) ? " checked" : ""}>
          <label for="m-${esc(m.code)}">${esc(m.name)} <span class="muted">${esc(m.code)}</span></label>${tags(m)}</li>`,
      )
      .join("");
  }
  const lineKey = (lines) => JSON.stringify(lines.map((m) => [m.code, m.required, m.deferrable, m.commitment]));
  $("#has-agent").addEventListener("change", () => {
    $("#agent-fields").hidden = !hasAgent();
    $("#agent-note").hidden = !hasAgent();
    refresh();
    if (hasAgent()) $("#agent-name").focus();
  });

  function unitName(unit) {
    return { WD: "个工作日", WH: "个工作小时", ND: "个自然日", NH: "个自然小时" }[unit] || "个工作日";
  }

  function checked() {
    return [...form.querySelectorAll("#checklist input:checked")].map((box) => box.dataset.code);
  }

  // What is still missing, live: the gateway assesses the ticks with intake's own rules
  // (POST /api/catalogue/{code}/assessment); intake also counts the applicant's materials on file.
  let assessTimer = 0;
  let asked = 0; // the latest question: an older answer arriving late is dropped
  function refresh() {
    if (!selected) return;
    const box = $("#missing");
    box.classList.remove("ok");
    box.setAttribute("aria-busy", "true");
    box.innerHTML = `<span class="muted">检查中…</span>`;
    clearTimeout(assessTimer);
    assessTimer = setTimeout(assessNow, 150);
  }
  async function assessNow() {
    const code = selected.code;
    const question = ++asked;
    const box = $("#missing");
    const body = {
      materials: checked(),
      deferral_signed: $("#deferral").checked,
      commitment_signed: $("#commitment").checked,
      with_agent: hasAgent(),
    };
    try {
      const { body: answer } = await window.hall.json(`/api/catalogue/${encodeURIComponent(code)}/assessment`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      if (question !== asked || !selected || selected.code !== code) return;
      if (lineKey(answer.form) !== lineKey(shownForm)) renderChecklist(answer.form);
      box.classList.toggle("ok", answer.acceptable);
      const [head, ...rest] = answer.summary.split("：");
      const tail = rest.join("：");
      box.innerHTML = tail ? `<strong>${esc(head)}：</strong>${esc(tail)}` : `<strong>${esc(head)}</strong>`;
    } catch (error) {
      if (question !== asked) return;
      box.innerHTML = `<strong>材料检查失败：</strong>${esc(error.message)}（提交时仍会检查）`;
    } finally {
      if (question === asked) box.removeAttribute("aria-busy");
    }
  }
  form.addEventListener("change", refresh);

  // ------------------------------------------------------------ the applicant's ID, checked as it is typed

  const RIC_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  function idHint(type, raw) {
    const n = raw.replace(/[\s-]/g, "").toUpperCase();
    if (!n || type === "其他") return "";
    if (n.length !== 18) return `应为18位，现为${n.length}位`;
    if (type === "居民身份证") {
      const bad = [...n.slice(0, 17)].findIndex((c) => !/[0-9]/.test(c));
      if (bad >= 0) return `第${bad + 1}位应为数字`;
      const sum = RIC_WEIGHTS.reduce((s, w, i) => s + w * Number(n[i]), 0);
      const expected = "10X98765432"[sum % 11];
      return n[17] === expected ? "✓ 校验通过" : `第18位校验码应为${expected}`;
    }
    const bad = [...n.slice(0, 17)].findIndex((c) => USCC.indexOf(c) < 0);
    if (bad >= 0) return `第${bad + 1}位“${n[bad]}”无效`;
    const sum = USCC_WEIGHTS.reduce((s, w, i) => s + w * USCC.indexOf(n[i]), 0);
    const expected = USCC[(31 - (sum % 31)) % 31];
    return n[17] === expected ? "✓ 校验通过" : `第18位校验码应为${expected}`;
  }
  for (const id of ["#id-number", "#id-type"]) {
    $(id).addEventListener("input", () => { $("#id-hint").textContent = idHint($("#id-type").value, $("#id-number").value); });
  }
  for (const id of ["#agent-id-number", "#agent-id-type"]) {
    $(id).addEventListener("input", () => { $("#agent-id-hint").textContent = idHint($("#agent-id-type").value, $("#agent-id-number").value); });
  }

  // ------------------------------------------------------------ submitting, and the answer

  function showError(text) {
    const error = $("#error");
    error.hidden = !text;
    error.textContent = text;
  }

  function application(refusal) {
    const days = parseFloat($("#supplement-days").value);
    const body = {
      item_code: selected.code,
      applicant: {
        name: $("#applicant-name").value.trim(),
        id_type: $("#id-type").value,
        id_number: $("#id-number").value.trim(),
        phone: $("#phone").value.trim(),
      },
      materials: checked(),
      channel: "window",
      deferral_signed: $("#deferral").checked,
      commitment_signed: $("#commitment").checked,
      refusal_reason: refusal || "",
    };
    if (hasAgent()) {
      body.agent = {
        name: $("#agent-name").value.trim(),
        id_type: $("#agent-id-type").value,
        id_number: $("#agent-id-number").value.trim(),
        relation: $("#agent-relation").value.trim(),
      };
    }
    if ($("#helper-name").value.trim()) body.helper_name = $("#helper-name").value.trim();
    if ($("#project-code").value.trim()) body.project_code = $("#project-code").value.trim();
    if (days > 0 && $("#deferral").checked) {
      body.supplement_limit = { value: days, unit: (selected.promised_limit && selected.promised_limit.unit) || "WD" };
    }
    return body;
  }

  async function submit(refusal) {
    if (!selected) return;
    if (!$("#applicant-name").value.trim() || !$("#id-number").value.trim()) {
      showError("请填写申请人姓名和证件号码");
      (!$("#applicant-name").value.trim() ? $("#applicant-name") : $("#id-number")).focus();
      return;
    }
    const agentEmpty = ["#agent-name", "#agent-id-number", "#agent-relation"].find((id) => !$(id).value.trim());
    if (hasAgent() && agentEmpty) {
      showError("请填写代理人姓名、证件号码和与申请人关系");
      $(agentEmpty).focus();
      return;
    }
    const body = application(refusal);
    const text = JSON.stringify(body);
    // A retry of the very same application keeps its key (never a second case); a changed one gets a new key.
    if (text !== lastBody) {
      idemKey = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
      lastBody = text;
    }
    showError("");
    $("#submit").disabled = true;
    try {
      const response = await fetch("/api/cases", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "idempotency-key": idemKey },
        body: text,
      });
      const answer = await response.json();
      if (response.status === 201) return accepted(answer);
      if (response.status === 200 && answer.outcome === "待补正") return incomplete(answer, body);
      if (response.status === 422 && answer.outcome === "不予受理") return refused(answer);
      if (response.status === 202) return later(answer);
      showError(answer.detail || `提交失败（${response.status}）`);
    } catch (error) {
      showError(`提交失败：${error.message}`);
    } finally {
      $("#submit").disabled = false;
    }
  }

  function showResult(outcome, caseNo) {
    form.hidden = true;
    $("#result").hidden = false;
    $("#outcome").textContent = outcome;
    const link = $("#result-link");
    link.hidden = !caseNo;
    link.textContent = "查看办件";
    if (caseNo) link.href = `/desk/cases/${encodeURIComponent(caseNo)}`;
    lastBody = "";
  }

  function accepted(answer) {
    const flags = [answer.deferred ? "容缺受理" : "", answer.commitment ? "告知承诺" : ""].filter(Boolean).join("、");
    showResult(`已受理，办件编号 ${answer.case_no}${flags ? `（${flags}）` : ""}`, answer.case_no);
    showDocument($("#document-slot"), answer.case_no);
  }

  function refused(answer) {
    showResult(`不予受理，文书编号 ${answer.case_no}`, answer.case_no);
    showDocument($("#document-slot"), answer.case_no);
  }

  function later(answer) {
    showResult(`已提交，系统正在处理（命令 ${answer.command_id}），稍后可在“我的办件”查看`, "");
    $("#document-slot").innerHTML = "";
  }

  function incomplete(answer, body) {
    showResult(`材料不全：一次告知 ${answer.missing.length} 项${answer.notice_no ? `，告知书编号 ${answer.notice_no}` : ""}`, "");
    if (answer.notice_no) {
      const link = $("#result-link");
      link.hidden = false;
      link.textContent = "查看告知书";
      link.href = `/desk/notices/${encodeURIComponent(answer.notice_no)}`;
    }
    const today = new Date().toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" });
    const reused = answer.reused.length
      ? `<p>以下材料已在你以往的办件中提交，本次复用，无需再交：${answer.reused.map((r) => `${esc(r.name)}（办件 ${esc(r.case_no)}）`).join("、")}。</p>`
      : "";
    $("#document-slot").innerHTML = `<article class="document" id="document" data-kind="notice">
      <h2 class="doc-title">${esc(desk.dataset.point)}<br>一次性告知书</h2>
      ${answer.notice_no ? `<p class="doc-no">文书编号：<span id="notice-no">${esc(answer.notice_no)}</span></p>` : ""}
      <p>${esc(body.applicant.name)}（${esc(body.applicant.id_type)}）：</p>
      <p>你（单位）申请办理的“${esc(answer.item_name)}”（${esc(answer.item_code)}），经审查，申请材料尚不齐全。现将需要补正的全部材料一次性告知如下：</p>
      <table class="doc" id="missing-list"><tr><th>序号</th><th>材料</th><th>原因</th></tr>
        ${answer.missing.map((m, i) => `<tr data-code="${esc(m.code)}"><td>${i + 1}</td><td>${esc(m.name)}（${esc(m.code)}）</td><td>${esc(m.reason)}</td></tr>`).join("")}
      </table>
      ${reused}
      <p>以上为需要补正的全部材料。材料补齐后，可到任一受理窗口或自助终端重新提交。</p>
      <p class="sign"><span>经办人：${esc(desk.dataset.clerk)}</span><span>${esc(today)}</span><span>（受理专用章）</span></p>
    </article>`;
    if (answer.notice_no) showNotice($("#document-slot"), answer.notice_no);
  }

  // The kept 一次性告知书 (as reprinted from 我的办件) replaces the draft once the read model has it.
  async function showNotice(slot, noticeNo) {
    const started = Date.now();
    while (Date.now() - started < 10000) {
      const response = await fetch(`/desk/notices/${encodeURIComponent(noticeNo)}/document`, { credentials: "same-origin" });
      if (response.ok) {
        slot.innerHTML = await response.text();
        return;
      }
      await sleep(200);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit("");
  });
  $("#refuse").addEventListener("click", () => {
    $("#refusal-box").hidden = false;
    $("#refusal-reason").focus();
  });
  $("#refuse-confirm").addEventListener("click", () => {
    const reason = $("#refusal-reason").value.trim();
    if (!reason) {
      showError("请填写不予受理的理由");
      $("#refusal-reason").focus();
      return;
    }
    submit(reason);
  });

  function fresh() {
    selected = null;
    lastBody = "";
    form.reset();
    $("#agent-fields").hidden = true;
    $("#agent-note").hidden = true;
    form.hidden = true;
    $("#result").hidden = true;
    $("#intro").hidden = false;
    find.value = "";
    search();
    find.focus();
  }
  $("#reset").addEventListener("click", fresh);
  $("#again").addEventListener("click", fresh);
  document.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "n" || event.key === "N")) {
      event.preventDefault();
      fresh();
    }
  });

  search().then(() => {
    if (desk.dataset.item) choose(desk.dataset.item);
  });
})();
