/* Strata's savings dashboard: fetches the usage JSON endpoints and renders them.
   Every value from the server is written with textContent, never parsed as HTML. */
"use strict";

(() => {
  const KEY_STORAGE = "strata.apiKey";
  const PAGE_SIZE = 20;
  const PERIOD_HOURS = { "1d": 24, "7d": 24 * 7, "30d": 24 * 30 };
  const state = { key: sessionStorage.getItem(KEY_STORAGE), offset: 0, chart: null };
  const $ = (id) => document.getElementById(id);

  class AuthError extends Error {}

  async function getJSON(path, params) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined) url.searchParams.set(name, value);
    }
    const headers = { Accept: "application/json" };
    if (state.key) headers.Authorization = "Bearer " + state.key;
    const response = await fetch(url, { headers, cache: "no-store", credentials: "omit" });
    if (response.status === 401 || response.status === 403) {
      const body = await response.json().catch(() => ({}));
      throw new AuthError((body.error && body.error.message) || "this key may not read usage");
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
    }
    return response.json();
  }

  function money(usd) {
    if (usd === null || usd === undefined) return "unpriced";
    const size = Math.abs(usd);
    const digits = size === 0 ? 2 : size >= 100 ? 2 : size >= 1 ? 3 : size >= 0.01 ? 4 : 6;
    const text = "$" + size.toFixed(digits);
    return usd < 0 ? "−" + text : text;
  }

  const count = (n) => Number(n).toLocaleString("en-US");
  const percent = (ratio) => (ratio === null ? "–" : (ratio * 100).toFixed(1) + "%");
  const time = (iso) => new Date(iso).toLocaleString(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function setText(id, text, sign) {
    const element = $(id);
    element.textContent = text;
    if (sign !== undefined) {
      element.classList.remove("positive", "negative");
      if (sign) element.classList.add(sign);
    }
  }

  function signClass(usd) {
    if (usd === null || usd === undefined || usd === 0) return "";
    return usd > 0 ? "positive" : "negative";
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    if (className === "mono") td.title = text;
    row.appendChild(td);
    return td;
  }

  function fillTable(id, items, columns) {
    const body = $(id);
    body.replaceChildren();
    for (const item of items) {
      const row = document.createElement("tr");
      for (const [value, className] of columns(item)) cell(row, value, className);
      body.appendChild(row);
    }
  }

  function period() {
    const hours = PERIOD_HOURS[$("period").value];
    return hours ? { since: new Date(Date.now() - hours * 3600 * 1000).toISOString() } : {};
  }

  function renderSummary(summary) {
    const saved = $("saved-usd");
    saved.dataset.usd = String(summary.saved_usd);
    setText("saved-usd", money(summary.saved_usd), signClass(summary.saved_usd));
    const rate = summary.cost_without_cache_usd > 0
      ? summary.saved_usd / summary.cost_without_cache_usd : null;
    setText("saved-rate", rate === null ? "no priced calls yet"
      : `${percent(rate)} of what the same calls cost with no caching`);
    setText("cost-usd", money(summary.cost_usd));
    setText("cost-without", `${money(summary.cost_without_cache_usd)} without caching`);
    setText("calls", count(summary.calls));
    setText("tokens-note", `${count(summary.cache_read_input_tokens)} tokens read from cache, ` +
      `${count(summary.cache_creation_input_tokens)} written, ${count(summary.input_tokens)} uncached`);
    setText("answer-hits", count(summary.answer_cache_hits));
    setText("answer-avoided", `${money(summary.avoided_cost_usd - summary.semantic_avoided_cost_usd)} of calls not made`);
    setText("semantic-hits", count(summary.semantic_cache_hits));
    setText("semantic-avoided", `${money(summary.semantic_avoided_cost_usd)} of calls not made, for paraphrases`);
    const audits = summary.semantic_audits;
    setText("semantic-audit", audits ? `${percent(summary.semantic_audit_disagreements / audits)} ` +
      `disagreement on ${count(audits)} audited hits` : "no hits audited yet");
    const routeCost = summary.by_feature.route ? summary.by_feature.route.cost_usd : 0;
    setText("routing-saved", money(summary.routing_net_saved_usd),
      signClass(summary.routing_net_saved_usd));
    setText("routed-calls", `${money(summary.routing_saved_usd)} saved on ` +
      `${count(summary.routed_calls)} calls, less ${money(routeCost)} spent deciding`);
    setText("wasted-tokens", count(summary.wasted_writes.tokens) + " tokens");
    $("wasted-tokens").classList.toggle("wasted", summary.wasted_writes.tokens > 0);
    setText("wasted-usd", `${money(summary.wasted_writes.usd)} of write premium wasted` +
      (summary.wasted_writes.pending_tokens ? `; ${count(summary.wasted_writes.pending_tokens)} still live` : ""));
    const groupRows = (group) => Object.entries(group)
      .sort((a, b) => b[1].cost_usd - a[1].cost_usd)
      .map(([name, sums]) => [name, sums]);
    const columns = ([name, sums]) => {
      const priced = sums.unpriced_calls < sums.calls;
      return [
        [name], [count(sums.calls), "num"], [priced ? money(sums.cost_usd) : "unpriced", "num"],
        [priced ? money(sums.saved_usd) : "unpriced", "num " + signClass(sums.saved_usd)],
      ];
    };
    fillTable("by-feature", groupRows(summary.by_feature), columns);
    fillTable("by-model", groupRows(summary.by_model), columns);
    const keys = new Map(summary.keys.map((k) => [k.key_id, k]));
    const keyName = (id) => {
      if (id === "local") return "no keys (this machine)";
      if (id === "None") return "no key (ingest, CLI)";
      const known = keys.get(id);
      return known ? `${known.role} ${id}` : `${id} (no longer configured)`;
    };
    fillTable("by-key", groupRows(summary.by_key), ([id, sums]) => {
      const known = keys.get(id);
      const today = known ? money(known.spent_today_usd) +
        (known.daily_budget_usd === null ? "" : " of " + money(known.daily_budget_usd)) : "–";
      return [
        [keyName(id), "mono"], [count(sums.calls), "num"],
        [sums.unpriced_calls < sums.calls ? money(sums.cost_usd) : "unpriced", "num"],
        [today, "num"],
      ];
    });
    const unpriced = $("unpriced");
    unpriced.hidden = summary.unpriced_calls === 0;
    unpriced.textContent = `${count(summary.unpriced_calls)} calls on models with no known price are counted but not priced.`;
  }

  function renderLayers(layers) {
    const box = $("layers");
    box.replaceChildren();
    for (const layer of layers) {
      const row = document.createElement("div");
      row.className = "bar-row";
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = layer.layer;
      const track = document.createElement("div");
      track.className = "bar-track";
      const fill = document.createElement("div");
      fill.className = "bar-fill";
      fill.style.width = ((layer.hit_rate || 0) * 100).toFixed(1) + "%";
      track.appendChild(fill);
      const value = document.createElement("span");
      value.className = "bar-value";
      value.textContent = `${percent(layer.hit_rate)} `;
      const detail = document.createElement("small");
      detail.textContent = `${count(layer.hits)}/${count(layer.eligible_calls)} · saved ${money(layer.saved_usd)}`;
      value.appendChild(detail);
      row.append(label, track, value);
      box.appendChild(row);
    }
  }

  function renderTimeline(insights) {
    const points = insights.timeline;
    $("timeline-empty").hidden = points.length > 0;
    const daily = insights.bucket_seconds >= 86400;
    const labels = points.map((p) => new Date(p.start).toLocaleString(undefined, daily
      ? { month: "short", day: "numeric" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }));
    let running = 0;
    const cumulative = points.map((p) => (running += p.saved_usd));
    const datasets = [
      { label: "Spent", data: points.map((p) => p.cost_usd), borderColor: "#2563eb", backgroundColor: "#2563eb33", type: "bar" },
      { label: "Cost without caching", data: points.map((p) => p.cost_without_cache_usd), borderColor: "#94a3b8", backgroundColor: "#94a3b833", type: "bar" },
      { label: "Net saved (running total)", data: cumulative, borderColor: "#0f8a5f", backgroundColor: "#0f8a5f", type: "line", tension: 0.25, pointRadius: 2 },
    ];
    if (typeof window.Chart !== "function") return;
    if (state.chart) state.chart.destroy();
    state.chart = new window.Chart($("timeline-chart"), {
      data: { labels, datasets },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { ticks: { callback: (v) => money(v) } } },
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${money(c.parsed.y)}` } },
        },
      },
    });
  }

  function renderMisses(reasons) {
    $("misses-empty").hidden = reasons.length > 0;
    fillTable("misses", reasons, (m) => [
      [m.reason], [count(m.calls), "num"], [count(m.missed_tokens), "num"],
      [money(m.lost_usd), "num negative"],
    ]);
  }

  // A semantic hit names the cached question it was served for, and how close it was.
  const layerLabel = (r) => (r.semantic_question && r.layer_hit === "semantic"
    ? `semantic: “${r.semantic_question}” (${Number(r.semantic_similarity).toFixed(2)})` : r.layer_hit);

  const promptTokens = (r) => r.input_tokens + r.cache_creation_input_tokens + r.cache_read_input_tokens;

  function renderExpensive(page) {
    fillTable("expensive", page.requests, (r) => [
      [time(r.started_at)], [r.feature], [r.model], [count(promptTokens(r)), "num"],
      [count(r.output_tokens), "num"], [layerLabel(r)], [money(r.cost_usd), "num"],
      [money(r.saved_usd), "num " + signClass(r.saved_usd)],
    ]);
  }

  function renderRecent(page) {
    fillTable("recent", page.requests, (r) => [
      [time(r.started_at)], [r.feature], [r.model], [r.conversation_id || "–", "mono"],
      [count(r.input_tokens), "num"], [count(r.cache_creation_input_tokens), "num"],
      [count(r.cache_read_input_tokens), "num"], [count(r.output_tokens), "num"],
      [layerLabel(r)], [r.cache_miss_reason || "–"], [money(r.cost_usd), "num"],
      [money(r.saved_usd), "num " + signClass(r.saved_usd)],
      [`${Math.round(r.latency_ms)} ms`, "num"], [r.request_id || "–", "mono"],
    ]);
    const last = page.offset + page.requests.length;
    setText("page-note", page.total ? `${count(page.offset + 1)}–${count(last)} of ${count(page.total)}` : "none yet");
    $("newer").disabled = page.offset === 0;
    $("older").disabled = page.next_offset === null;
  }

  function showKeyPanel(message) {
    $("key-panel").hidden = false;
    $("content").hidden = true;
    $("key-error").hidden = !message;
    $("key-error").textContent = message || "";
    $("api-key").focus();
  }

  async function load() {
    $("load-error").hidden = true;
    if (!state.key && document.body.dataset.keysRequired === "true") {
      showKeyPanel("");
      return;
    }
    const range = period();
    try {
      const [summary, insights, expensive, recent] = await Promise.all([
        getJSON("/v1/usage/summary", range),
        getJSON("/v1/usage/insights", range),
        getJSON("/v1/usage/requests", { ...range, order: "cost", limit: 10 }),
        getJSON("/v1/usage/requests", { ...range, limit: PAGE_SIZE, offset: state.offset }),
      ]);
      $("key-panel").hidden = true;
      $("content").hidden = false;
      $("forget-key").hidden = !state.key;
      renderSummary(summary);
      renderLayers(insights.layers);
      renderMisses(insights.miss_reasons);
      renderTimeline(insights);
      renderExpensive(expensive);
      renderRecent(recent);
      document.body.dataset.loaded = "true";
    } catch (error) {
      if (error instanceof AuthError) {
        showKeyPanel(error.message);
      } else {
        $("load-error").hidden = false;
        $("load-error").textContent = "Could not load usage: " + error.message;
      }
    }
  }

  $("controls").addEventListener("submit", (event) => {
    event.preventDefault();
    state.offset = 0;
    load();
  });
  $("period").addEventListener("change", () => {
    state.offset = 0;
    load();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("api-key").value.trim();
    $("api-key").value = "";
    sessionStorage.setItem(KEY_STORAGE, state.key);
    load();
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    state.key = null;
    showKeyPanel("");
    $("forget-key").hidden = true;
  });
  $("newer").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    load();
  });
  $("older").addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    load();
  });

  load();
})();
