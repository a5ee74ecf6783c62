/* COR incentives dashboard: charts from each page's JSON (?format=json), refreshed every few seconds.
 *
 * Every page embeds nothing but its layout; on load it fetches its own JSON (the dict it was rendered
 * from), draws its charts (Chart.js, bundled), and then polls the JSON again: charts, elements with
 * data-bind="path.in.json" (and data-fmt) and page tables are updated in place.
 * window.corDashboard exposes the charts and the last data (for the browser tests).
 */
(function () {
  "use strict";

  const PALETTE = {
    miners: "#4f46e5", validators: "#0d9488", marketplace: "#d97706", community: "#e11d48", governance: "#7c3aed",
    staking: "#0284c7", emission: "#475569", target: "#94a3b8", effective: "#0284c7",
  };
  const CYCLE = ["#4f46e5", "#0d9488", "#d97706", "#e11d48", "#7c3aed", "#0284c7", "#65a30d", "#ea580c", "#db2777", "#64748b", "#0891b2", "#ca8a04"];

  // --- formatting (the same rules as dashboard/filters.py) ------------------------------------

  function group(whole) { return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

  // a non-zero amount below the shown precision, positional (never 3.00e-18): the decimal string cut after 6 significant digits
  function tiny(text, digits) {
    digits = digits === undefined ? 6 : digits;
    const negative = text.startsWith("-");
    const [whole, frac = ""] = (negative ? text.slice(1) : text).split(".");
    const lead = frac.length - frac.replace(/^0+/, "").length;
    return (negative ? "-" : "") + whole + "." + (frac.slice(0, lead + digits).replace(/0+$/, "") || "0");
  }

  // a share in parts per billion as a percentage that never reads 0 for a real amount (filters.share)
  function share(ppb) {
    if (ppb === null || ppb === undefined) return "—";
    const v = BigInt(ppb);
    if (v === 0n) return "< 0.0000001%";
    const whole = v / 10000000n, rest = (v % 10000000n).toString().padStart(7, "0");
    if (whole >= 1n) return whole + "." + rest.slice(0, 2) + "%";
    return tiny("0." + rest, 2) + "%";
  }

  function corShort(value, places) {
    if (value === null || value === undefined) return "—";
    places = places === undefined ? 2 : places;
    const text = String(value);
    const negative = text.startsWith("-");
    const [whole, frac = ""] = (negative ? text.slice(1) : text).split(".");
    const n = Number(text);
    if (n !== 0 && Math.abs(n) < Math.pow(10, -places)) return tiny(text);
    const kept = places ? "." + (frac + "0".repeat(places)).slice(0, places) : "";
    return (negative ? "-" : "") + group(whole) + kept;
  }

  function corCompact(value) {
    if (value === null || value === undefined) return "—";
    const text = String(value);
    const [whole] = text.replace("-", "").split(".");
    for (const [digits, suffix] of [[10, "B"], [7, "M"]]) {
      if (whole.length >= digits) {
        const cut = whole.length - digits + 1;
        return (text.startsWith("-") ? "-" : "") + whole.slice(0, cut) + "." + (whole.slice(cut) + "00").slice(0, 2) + suffix;
      }
    }
    return corShort(value, 2);
  }

  const FORMATS = {
    compact: corCompact,
    cor: (v) => corShort(v, 2),
    cor0: (v) => corShort(v, 0),
    share: share,
    bps: (v) => (v === null || v === undefined ? "—" : (Number(v) / 100).toFixed(2) + "%"),
    ppb: (v) => (v === null || v === undefined ? "—" : (Number(v) / 1e9).toFixed(3)),
    short: (v) => { const t = String(v ?? ""); return t.length <= 11 ? t : t.slice(0, 6) + "…" + t.slice(-4); },
    text: (v) => (v === null || v === undefined ? "—" : String(v)),
  };

  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
  }

  const num = (v) => (v === null || v === undefined ? null : Number(v));
  const nums = (xs) => (xs || []).map(num);

  // --- charts of each page ----------------------------------------------------------------------

  const base = (extra) => Object.assign({
    responsive: true, maintainAspectRatio: false, animation: { duration: 300 },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12, padding: 14 } },
               tooltip: { callbacks: {} } },
  }, extra || {});

  const corAxis = (title) => ({ beginAtZero: true, title: { display: !!title, text: title },
    ticks: { callback: (v) => (Math.abs(v) >= 1e6 ? corCompact(String(Math.round(v))) : corShort(String(Math.round(v)), 0)) }, grid: { color: "#eef2f7" } });

  const CHARTS = {
    overview: {
      supply(d) {
        const classes = Object.entries(d.status.by_account_class).filter(([, v]) => Number(v) > 0);
        return { type: "doughnut", data: { labels: classes.map(([k]) => k),
          datasets: [{ label: "COR", data: classes.map(([, v]) => Number(v)), backgroundColor: classes.map((_, i) => CYCLE[i % CYCLE.length]), borderWidth: 1 }] },
          options: base({ cutout: "62%", plugins: { legend: { position: "right", labels: { boxWidth: 10, padding: 8 } },
            tooltip: { callbacks: { label: (ctx) => {
              const total = ctx.dataset.data.reduce((a, b) => a + b, 0);
              return ` ${corCompact(classes[ctx.dataIndex][1])} COR (${(100 * ctx.parsed / total).toFixed(2)}%)`;
            } } } } }) };
      },
      pools(d) {
        const pools = Object.entries(d.status.pools);
        return { type: "bar", data: { labels: pools.map(([k]) => k.replace("pool:", "")),
          datasets: [{ label: "COR", data: pools.map(([, v]) => Number(v)), backgroundColor: ["#4f46e5", "#0284c7", "#e11d48"], borderRadius: 4 }] },
          options: base({ indexAxis: "y", plugins: { legend: { display: false } },
            scales: { x: Object.assign(corAxis(), { ticks: { maxRotation: 0, maxTicksLimit: 6, callback: (v) => (v === 0 ? "0" : corCompact(String(Math.round(v)))) } }), y: { grid: { display: false } } } }) };
      },
      apr(d) {
        const s = d.series;
        return { type: "line", data: { labels: s.epochs.map(String), datasets: [
          { label: "target APR %", data: s.target_apr_bps.map((v) => (v === null ? null : v / 100)), borderColor: PALETTE.target, borderDash: [6, 4], pointRadius: 2, tension: 0 },
          { label: "effective APR %", data: s.effective_apr_bps.map((v) => (v === null ? null : v / 100)), borderColor: PALETTE.effective, backgroundColor: "rgba(2,132,199,.12)", fill: true, pointRadius: 2, tension: 0.2 },
        ] }, options: base({ scales: { y: { beginAtZero: true, title: { display: true, text: "% per year" } }, x: { title: { display: true, text: "epoch" } } } }) };
      },
      streams(d) {
        const s = d.series;
        const streams = Object.keys(s.paid);
        return { type: "bar", data: { labels: s.epochs.map(String), datasets: [
          { type: "line", label: "emission", data: nums(s.emission), borderColor: PALETTE.emission, backgroundColor: PALETTE.emission, pointRadius: 2, borderWidth: 2, order: 0 },
          ...streams.map((k, i) => ({ label: k + (k === "staking" ? " (APR pool)" : ""), data: nums(s.paid[k]), stack: "paid", order: 1,
            backgroundColor: PALETTE[k] || CYCLE[i % CYCLE.length], borderRadius: 2 })),
        ] }, options: base({ scales: { x: { stacked: true, title: { display: true, text: "epoch" }, grid: { display: false } }, y: Object.assign(corAxis("COR"), { stacked: true }) } }) };
      },
    },
    node: {
      reputation(d) {
        const h = d.reputation_history;
        return { type: "line", data: { labels: h.map((x) => String(x.epoch)), datasets: [
          { label: "reputation at epoch close", data: h.map((x) => x.reputation_ppb / 1e9), borderColor: "#4f46e5", backgroundColor: "rgba(79,70,229,.12)", fill: true, tension: 0.2, pointRadius: 3 },
        ] }, options: base({ scales: { y: { min: 0, max: 1 }, x: { title: { display: true, text: "epoch" } } }, plugins: { legend: { display: false } } }) };
      },
      rewards(d) {
        const streams = [...new Set(d.rewards.flatMap((r) => Object.keys(r.by_stream)))].sort();
        const color = { miner_work: PALETTE.miners, validator_work: PALETTE.validators, staking_apr: PALETTE.staking, governance: PALETTE.governance,
                        marketplace: PALETTE.marketplace, community: PALETTE.community };
        return { type: "bar", data: { labels: d.rewards.map((r) => String(r.epoch)), datasets: streams.map((k, i) => ({
          label: k, data: d.rewards.map((r) => Number(r.by_stream[k] || 0)), stack: "r", backgroundColor: color[k] || CYCLE[(i + 6) % CYCLE.length], borderRadius: 2 })) },
          options: base({ scales: { x: { stacked: true, title: { display: true, text: "epoch" } }, y: Object.assign(corAxis("COR"), { stacked: true }) } }) };
      },
    },
    task: {
      miners(d) {
        const ms = d.task.miners;
        const limit = d.poi_max_distance_ppb / 1e9;
        return { type: "bar", data: { labels: ms.map((m) => FORMATS.short(m.miner)), datasets: [
          { type: "line", label: `PoI limit (${limit})`, data: ms.map(() => limit), borderColor: "#9f1239", borderDash: [5, 4], pointRadius: 0, borderWidth: 1.5 },
          { label: "PoI distance", data: ms.map((m) => (m.poi_distance_ppb === null ? null : m.poi_distance_ppb / 1e9)), backgroundColor: "#e11d48", borderRadius: 3 },
          { label: "PoUW quality", data: ms.map((m) => (m.quality_ppb === null ? null : m.quality_ppb / 1e9)), backgroundColor: "#0d9488", borderRadius: 3 },
        ] }, options: base({ scales: { y: { min: 0, max: 1 } } }) };
      },
    },
    epoch: {
      streams(d) {
        const rows = d.stream_rows;
        return { type: "bar", data: { labels: rows.map((r) => r.stream), datasets: [
          { label: "budget", data: rows.map((r) => Number(r.budget)), backgroundColor: "#cbd5e1", borderRadius: 3 },
          { label: "paid", data: rows.map((r) => Number(r.paid)), backgroundColor: rows.map((r) => PALETTE[r.stream] || "#4f46e5"), borderRadius: 3 },
        ] }, options: base({ scales: { y: corAxis("COR") } }) };
      },
    },
  };

  // --- page tables rebuilt on refresh -----------------------------------------------------------

  function esc(t) { return String(t ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]); }
  const amt = (v) => `<span class="num" title="${esc(v)} COR">${esc(corShort(v))}</span>`;

  const RENDER = {
    overview(d) {
      const body = document.querySelector("#latest-epochs tbody");
      if (!body) return;
      body.innerHTML = d.latest_epochs.length ? d.latest_epochs.map((e) => `<tr><td><a href="/epochs/${e.epoch}">${e.epoch}</a></td>` +
        `<td>${e.start_tick}–${e.end_tick}</td><td class="r">${amt(e.emission)}</td><td class="r">${amt(e.network_paid)}</td>` +
        `<td class="r">${amt(e.staking_paid)}</td><td class="r">${FORMATS.bps(e.effective_apr_bps)}</td><td class="r">${amt(e.claimable_total)}</td>` +
        `<td class="r">${e.leaves}</td><td class="mono">${e.root ? esc(e.root.slice(0, 10) + "…" + e.root.slice(-6)) : "—"}</td></tr>`).join("")
        : '<tr><td colspan="9" class="muted">No epoch closed yet.</td></tr>';
    },
  };

  // --- live loop ---------------------------------------------------------------------------------

  const state = { charts: {}, data: null, refreshes: 0, errors: 0 };
  window.corDashboard = state;

  function bind(d) {
    document.querySelectorAll("[data-bind]").forEach((el) => {
      const v = get(d, el.dataset.bind);
      const text = (FORMATS[el.dataset.fmt || "text"] || FORMATS.text)(v);
      if (el.textContent !== text) { el.textContent = text; el.classList.add("changed"); setTimeout(() => el.classList.remove("changed"), 1200); }
    });
    document.querySelectorAll("[data-bind-width]").forEach((el) => {
      const v = Number(get(d, el.dataset.bindWidth) || 0);
      el.style.width = Math.min(100, v / 100) + "%";
    });
  }

  function draw(page, d) {
    const builders = CHARTS[page] || {};
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const make = builders[canvas.dataset.chart];
      if (!make) return;
      const config = make(d);
      const chart = state.charts[canvas.dataset.chart];
      if (!chart) {
        state.charts[canvas.dataset.chart] = new Chart(canvas, config);
        return;
      }
      chart.data.labels = config.data.labels;
      if (chart.data.datasets.length === config.data.datasets.length) {
        config.data.datasets.forEach((ds, i) => { chart.data.datasets[i].data = ds.data; if (ds.backgroundColor) chart.data.datasets[i].backgroundColor = ds.backgroundColor; });
      } else {
        chart.data.datasets = config.data.datasets;
      }
      chart.update("none");
    });
  }

  function live(ok, text) {
    const el = document.getElementById("live");
    if (!el) return;
    el.classList.toggle("offline", !ok);
    document.getElementById("live-text").textContent = text;
  }

  async function refresh(page, url) {
    try {
      const r = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!r.ok) throw new Error(r.status);
      const d = await r.json();
      state.data = d;
      draw(page, d);
      bind(d);
      (RENDER[page] || (() => {}))(d);
      state.refreshes += 1;
      live(true, "live · " + new Date().toLocaleTimeString());
    } catch (e) {
      state.errors += 1;
      live(false, "offline");
    }
  }

  function search() {
    const form = document.getElementById("address-search");
    if (!form) return;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = form.q.value.trim();
      if (/^0x[0-9a-fA-F]{40}$/.test(q)) window.location.href = "/address/" + q.toLowerCase();
      else form.q.classList.add("bad");
    });
  }

  let started = false;

  function start() {
    if (started) return;
    started = true;
    search();
    const body = document.body;
    const page = body.dataset.page;
    const url = body.dataset.jsonUrl;
    const every = Number(body.dataset.refreshMs || 0);
    if (!url) return;
    refresh(page, url);
    if (every > 0) setInterval(() => refresh(page, url), every);
  }

  if (typeof Chart !== "undefined") {
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#475569";
  }
  document.addEventListener("DOMContentLoaded", start);
  if (document.readyState !== "loading") start();
})();
