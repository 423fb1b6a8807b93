// 工程建设项目: the clerk's registration form posts to /api/projects and opens the project's page.
"use strict";
(() => {
  const form = document.getElementById("project-form");
  if (!form) return;
  const refusal = document.getElementById("refusal");
  const done = document.getElementById("done");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    refusal.hidden = true;
    done.hidden = true;
    const body = Object.fromEntries(new FormData(form).entries());
    try {
      const { status, body: answer } = await window.hall.json(form.dataset.api, { method: "POST", body: JSON.stringify(body) });
      if (status === 202) {
        done.textContent = "已提交，正在登记，请稍后刷新项目清单";
        done.hidden = false;
        return;
      }
      done.textContent = `已登记：${answer.project_code}（${answer.type_name}，${answer.stages.length} 个阶段）`;
      done.hidden = false;
      // The project's page reads the gateway's read model, which follows Kafka: wait until it knows the project.
      const url = `/projects/${encodeURIComponent(answer.project_code)}`;
      for (let tries = 0; tries < 40; tries += 1) {
        const probe = await fetch(`/api${url}`, { credentials: "same-origin" });
        if (probe.ok) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      window.location.assign(url);
    } catch (error) {
      refusal.textContent = error.message;
      refusal.hidden = false;
    }
  });
})();
