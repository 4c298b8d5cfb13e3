// yotaq dashboard: polls the server every second and updates the page in place.
// Everything from Redis is put into the page as text (textContent, attribute values), never as markup.
"use strict";

(function () {
  const POLL_MS = 1000;
  const CHART_MS = 5000;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const live = document.getElementById("live");

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, value);
    }
    for (const child of children || []) {
      node.append(child);  // strings become text nodes
    }
    return node;
  }

  // A time as the server sends it (UTC, ISO 8601), with the browser's local time as its tooltip.
  function when(iso) {
    if (!iso) return el("span", { class: "quiet" }, ["\u2014"]);
    const node = el("time", { datetime: iso }, [iso]);
    node.title = localTime(iso);
    return node;
  }

  function localTime(iso) {
    const at = new Date(iso);
    return isNaN(at) ? "" : "local time: " + at.toLocaleString(undefined, { timeZoneName: "short" });
  }

  function titleTimes(root) {
    for (const node of root.querySelectorAll("time[datetime]")) {
      if (!node.title) node.title = localTime(node.getAttribute("datetime"));
    }
  }

  function utcNow() {
    return new Date().toISOString().slice(0, 19) + "Z";
  }

  function jobLink(queue, id) {
    return el("a", { href: "/job?" + new URLSearchParams({ queue: queue, id: id }) }, [id]);
  }

  function hidden(name, value) {
    return el("input", { type: "hidden", name: name, value: value });
  }

  function requeueForm(queue, kind, id) {
    return el("form", { method: "post", action: "/actions/requeue" }, [
      hidden("csrf", csrf), hidden("next", "/"), hidden("queue", queue), hidden("kind", kind), hidden("id", id),
      el("button", { type: "submit" }, ["Requeue"]),
    ]);
  }

  function noneRow(columns, text) {
    return el("tr", { class: "none" }, [el("td", { colspan: String(columns) }, [text])]);
  }

  function workerRows(queue, workers) {
    if (workers.length === 0) return [noneRow(4, "no worker")];
    return workers.map((worker) => el("tr", worker.late ? { class: "late" } : {}, [
      el("td", { class: "mono" }, [worker.id]),
      el("td", {}, [worker.heartbeat_age_s.toFixed(1) + " s ago"]),
      el("td", {}, [String(worker.active)]),
      el("td", { class: "mono" }, [worker.running ? jobLink(queue, worker.running) : "idle"]),
    ]));
  }

  function recordRows(queue, kind, records) {
    if (records.length === 0) return [noneRow(4, "none")];
    return records.map((record) => el("tr", {}, [
      el("td", { class: "mono" }, [jobLink(queue, record.id)]),
      el("td", { class: "when" }, [when(record.at)]),
      el("td", { class: "why" }, [record.reason]),
      el("td", {}, [requeueForm(queue, kind, record.id)]),
    ]));
  }

  const rendered = new WeakMap();  // tbody -> the JSON it shows, so an unchanged list is left alone

  function fill(tbody, data, rows) {
    const key = JSON.stringify(data);
    if (rendered.get(tbody) === key) return;
    rendered.set(tbody, key);
    tbody.replaceChildren(...rows());
  }

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function updateSummary(queue) {
    const row = Array.from(document.querySelectorAll("tr[data-summary]")).find((tr) => tr.dataset.summary === queue.name);
    if (!row) return;
    for (const name of ["pending", "scheduled", "active", "failed", "dead"]) {
      setText(row.querySelector('[data-sum="' + name + '"]'), queue.counts[name].toLocaleString("en-US"));
    }
    setText(row.querySelector('[data-sum="rate"]'), String(queue.rate));
    setText(row.querySelector('[data-sum="workers"]'), String(queue.worker_count));
  }

  function updateQueue(section, queue) {
    updateSummary(queue);
    for (const [name, value] of Object.entries(queue.counts)) {
      setText(section.querySelector('[data-count="' + name + '"]'), value.toLocaleString("en-US"));
    }
    setText(section.querySelector('[data-field="done-last-hour"]'),
      queue.last_hour.done.toLocaleString("en-US") + " done in the last hour");
    setText(section.querySelector('[data-field="mean-last-hour"]'),
      queue.last_hour.mean_ms === null ? "no task done" : "mean " + queue.last_hour.mean_ms + " ms");
    setText(section.querySelector('[data-field="worker-count"]'), String(queue.worker_count));
    fill(section.querySelector('[data-list="workers"]'), queue.workers, () => workerRows(queue.name, queue.workers));
    for (const kind of ["failed", "dead"]) {
      setText(section.querySelector('[data-field="' + kind + '-count"]'), String(queue.counts[kind]));
      section.querySelector('[data-bulk="' + kind + '"]').hidden = queue.counts[kind] === 0;
      fill(section.querySelector('[data-list="' + kind + '"]'), queue[kind], () => recordRows(queue.name, kind, queue[kind]));
    }
  }

  function stamp(ok, text) {
    live.classList.toggle("down", !ok);
    live.title = ok ? localTime(new Date().toISOString()) : "";
    setText(live, text);
  }

  async function poll(url) {
    const response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response.json();
  }

  async function pollOverview() {
    try {
      const data = await poll("/api/overview");
      const sections = Array.from(document.querySelectorAll("section.queue"));
      const shown = sections.map((section) => section.dataset.queue);
      const names = data.queues.map((queue) => queue.name);
      if (JSON.stringify(shown) !== JSON.stringify(names)) {
        window.location.reload();  // a queue came or went: the server lays the page out again
        return;
      }
      data.queues.forEach((queue, n) => updateQueue(sections[n], queue));
      stamp(true, "live · " + utcNow());
    } catch (error) {
      stamp(false, "not updating: " + error.message);
    }
  }

  function refreshCharts() {
    for (const img of document.querySelectorAll("img.chart")) {
      const url = new URL(img.getAttribute("src"), window.location.href);
      url.searchParams.set("t", String(Date.now()));
      const next = new Image();  // loaded first, then swapped in: no blank flash
      next.onload = () => { img.src = next.src; };
      next.src = url.pathname + url.search;
    }
  }

  async function pollJob(section) {
    try {
      const data = await poll("/api/job?" + new URLSearchParams({ queue: section.dataset.queue, id: section.dataset.id }));
      if (data.status !== section.dataset.status) {
        window.location.reload();  // its state moved on: show what it is now
        return;
      }
      stamp(true, "live · " + utcNow());
    } catch (error) {
      stamp(false, "not updating: " + error.message);
    }
  }

  document.addEventListener("submit", (event) => {
    const question = event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  titleTimes(document);
  const overview = document.querySelector('[data-page="overview"]');
  const job = document.querySelector('[data-page="job"]');
  if (overview) {
    setInterval(pollOverview, POLL_MS);
    setInterval(refreshCharts, CHART_MS);
    pollOverview();
  } else if (job) {
    setInterval(() => pollJob(job), POLL_MS);
    pollJob(job);
  }
})();
