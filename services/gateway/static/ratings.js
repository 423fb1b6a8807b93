// 好差评 pages: the window pad, the kiosk, the rating-link page and the bad-review desk. Vanilla JS, no network
// beyond the hall's own API (window.hall.json from hall.js).
"use strict";
(function () {
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  function indicators(root) {
    const chosen = {};
    $$("select[data-indicator]", root).forEach((select) => {
      if (select.value) chosen[select.dataset.indicator] = select.value;
    });
    return chosen;
  }

  function say(element, text) {
    if (!element) return;
    element.textContent = text;
    element.hidden = !text;
  }

  // ---- the window pad: shows the service just given at its window, one tap rates it ----
  function pad(section) {
    const buttons = $$(".rate-level", section);
    const thanks = $("#pad-thanks", section);
    const error = $("#pad-error", section);
    const ratedHere = new Set(); // the read model may lag a moment behind a tap just answered

    function show(view) {
      const served = view.served;
      const changed = !served || served.case_no !== section.dataset.case || served.stage !== section.dataset.stage;
      section.dataset.case = served ? served.case_no : "";
      section.dataset.stage = served ? served.stage : "";
      const service = $("#pad-service", section);
      if (!served) {
        service.innerHTML = '<p class="muted" id="pad-empty">暂无待评价的服务</p>';
      } else if (changed) {
        const hello = served.applicant_name ? ` · ${window.hall.escape(mask(served.applicant_name))}，您好` : "";
        service.innerHTML =
          `<p>办件编号 <strong id="pad-case-no">${window.hall.escape(served.case_no)}</strong></p>` +
          `<p><span id="pad-item">${window.hall.escape(served.item_name)}</span> · ` +
          `<span id="pad-stage">${window.hall.escape(served.stage)}</span>服务${hello}</p>`;
        $$("select[data-indicator]", section).forEach((select) => { select.value = ""; });
      }
      if (changed) say(error, "");
      const rated = Boolean(served) && (view.rated || ratedHere.has(`${served.case_no}|${served.stage}`));
      say(thanks, rated ? "感谢您的评价！" : "");
      buttons.forEach((button) => { button.disabled = !served || rated; });
    }

    function mask(name) {
      return name.length <= 1 ? "*" : name.slice(0, name.length > 4 ? 2 : 1) + "*".repeat(name.length - (name.length > 4 ? 2 : 1));
    }

    buttons.forEach((button) => button.addEventListener("click", async () => {
      buttons.forEach((b) => { b.disabled = true; });
      say(error, "");
      try {
        await window.hall.json("/api/pad/ratings", {
          method: "POST",
          body: JSON.stringify({
            case_no: section.dataset.case,
            stage: section.dataset.stage,
            level: button.dataset.level,
            indicators: indicators(section),
          }),
        });
        ratedHere.add(`${section.dataset.case}|${section.dataset.stage}`);
        say(thanks, "感谢您的评价！");
      } catch (failure) {
        say(error, failure.message);
        buttons.forEach((b) => { b.disabled = false; });
      }
    }));

    setInterval(async () => {
      try {
        show((await window.hall.json("/api/pad/current")).body);
      } catch (failure) {
        say(error, failure.message);
      }
    }, 2000);
  }

  // ---- the kiosk: case number and the ID number's last six digits, then a level ----
  function kiosk(form) {
    const thanks = $("#kiosk-thanks");
    const error = $("#kiosk-error");
    $$(".rate-level", form).forEach((button) => button.addEventListener("click", async () => {
      say(error, "");
      if (!form.reportValidity()) return;
      const caseNo = $("#case_no", form).value.trim();
      try {
        await window.hall.json(`/api/cases/${encodeURIComponent(caseNo)}/ratings`, {
          method: "POST",
          body: JSON.stringify({
            level: button.dataset.level,
            channel: "自助终端",
            text: $("#text", form).value,
            applicant_id_tail: $("#id_tail", form).value.trim(),
          }),
        });
        form.reset();
        say(thanks, `办件 ${caseNo} 评价成功，感谢您的评价！`);
      } catch (failure) {
        say(error, failure.message);
      }
    }));
  }

  // ---- a rating link (SMS, QR code): the token is the rater's credential ----
  function link(form) {
    const thanks = $("#link-thanks");
    const error = $("#link-error");
    const buttons = $$(".rate-level", form);
    buttons.forEach((button) => button.addEventListener("click", async () => {
      say(error, "");
      const anonymous = $("#anonymous", form);
      try {
        await window.hall.json(`/api/rate/${encodeURIComponent(form.dataset.token)}`, {
          method: "POST",
          body: JSON.stringify({
            level: button.dataset.level,
            indicators: indicators(form),
            text: $("#text", form).value,
            ...(anonymous ? { anonymous: anonymous.checked } : {}),
          }),
        });
        buttons.forEach((b) => { b.disabled = true; });
        say(thanks, "评价成功，感谢您的评价！");
      } catch (failure) {
        say(error, failure.message);
      }
    }));
  }

  // ---- the bad-review desk: each form posts its fields as JSON to its data-url ----
  // Evaluation answers with the follow-up as changed; the desk's read model follows a moment later.
  async function caughtUp(followup) {
    if (!followup || !followup.followup_id) return;
    for (let attempt = 0; attempt < 50; attempt += 1) {
      try {
        const shown = await window.hall.json(`/api/ratings/followups/${encodeURIComponent(followup.followup_id)}`);
        if (shown.body.followup.revision >= followup.revision) return;
      } catch (failure) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  function deskAction(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      $$("input[name], select[name], textarea[name]", form).forEach((field) => {
        body[field.name] = field.dataset.type === "bool" ? field.value === "true" : field.value;
      });
      const error = $(".error", form);
      say(error, "");
      try {
        const answer = await window.hall.json(form.dataset.url, { method: "POST", body: JSON.stringify(body) });
        if (form.dataset.show === "url") {
          const result = $(".result", form);
          result.innerHTML = `评价链接：<a href="${window.hall.escape(answer.body.url)}">${window.hall.escape(answer.body.url)}</a>`;
          return;
        }
        await caughtUp(answer.body);
        window.location.reload();
      } catch (failure) {
        say(error, failure.message);
      }
    });
  }

  const padSection = $("#pad");
  if (padSection) pad(padSection);
  const kioskForm = $("#kiosk-rate");
  if (kioskForm) kiosk(kioskForm);
  const linkForm = $("#link-rate");
  if (linkForm) link(linkForm);
  $$("form.desk-action").forEach(deskAction);
})();
