// roomwatch dashboard: grid filters, live updates over Server-Sent Events, SLA countdowns.
// Pages work without this file; it only makes them live.
(function () {
  "use strict";
  const body = document.body;
  const zh = (body.dataset.lang || "zh-CN").startsWith("zh");

  // --- durations, as collector/web/timefmt.py writes them ---------------------------------
  const UNITS = zh
    ? [["天", 86400], ["小时", 3600], ["分", 60], ["秒", 1]]
    : [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
  function duration(seconds) {
    let left = Math.floor(Math.abs(seconds));
    const words = [];
    for (const [name, size] of UNITS) {
      if (left >= size || (size === 1 && !words.length)) {
        const count = Math.floor(left / size);
        left -= count * size;
        words.push(zh ? count + name : count + " " + name);
        if (words.length === 2) break;
      } else if (words.length) break;
    }
    return words.join(zh ? "" : " ");
  }

  // --- grid filters --------------------------------------------------------------------
  const filters = document.getElementById("grid-filters");
  function tileMatches(tile, f) {
    const state = tile.dataset.state;
    if (f.site && tile.dataset.site !== f.site) return false;
    if (f.building && tile.dataset.building !== f.building) return false;
    if (f.state === "faulty") { if (!state.startsWith("l")) return false; }
    else if (f.state === "grey") { if (state !== "offline" && state !== "unmonitored") return false; }
    else if (f.state && state !== f.state) return false;
    const q = (f.q || "").trim().toLowerCase();
    return !q || tile.dataset.search.includes(q);
  }
  function currentFilters() {
    if (!filters) return {};
    return Object.fromEntries(new FormData(filters).entries());
  }
  function applyFilters(pushUrl) {
    if (!filters) return;
    const f = currentFilters();
    let shown = 0;
    document.querySelectorAll(".tile").forEach((tile) => {
      const ok = tileMatches(tile, f);
      tile.hidden = !ok;
      if (ok) shown++;
    });
    document.getElementById("no-match").hidden = shown > 0;
    document.querySelectorAll(".count").forEach((c) => c.classList.toggle("active", c.dataset.filterState === f.state));
    if (pushUrl) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(f)) if (v) params.set(k, v);
      history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
      document.querySelectorAll(".lang-switch a").forEach((a) => {
        const target = new URL(a.href, location.href);
        target.searchParams.set("next", location.pathname + location.search);
        a.href = target.pathname + target.search;
      });
    }
  }
  if (filters) {
    filters.addEventListener("input", () => applyFilters(true));
    filters.addEventListener("change", () => applyFilters(true));
    filters.addEventListener("submit", (e) => { e.preventDefault(); applyFilters(true); });
    document.querySelectorAll(".count").forEach((c) => c.addEventListener("click", (e) => {
      e.preventDefault();
      const select = filters.querySelector("select[name=state]");
      select.value = select.value === c.dataset.filterState ? "" : c.dataset.filterState;
      applyFilters(true);
    }));
  }

  // --- live updates ----------------------------------------------------------------------
  const stateLabels = {};
  const labelTemplate = document.getElementById("state-labels");
  (labelTemplate ? labelTemplate.content.querySelectorAll("span") : []).forEach((s) => { stateLabels[s.dataset.state] = s.textContent; });

  function updateTile(data) {
    const tile = document.getElementById("tile-" + data.id);
    if (!tile) return false;
    const before = tile.dataset.state + "|" + data.open_faults;
    tile.classList.remove("st-" + tile.dataset.state);
    tile.classList.add("st-" + data.state);
    tile.dataset.state = data.state;
    // The feed carries the top fault's title in every language: show the page's.
    const topFault = (data.top_fault_titles || {})[document.documentElement.lang] || data.top_fault;
    tile.dataset.search = (data.name + " " + data.id + " " + topFault).toLowerCase();
    const fields = {
      state: stateLabels[data.state] || data.state,
      top_fault: topFault,
      devices: data.devices,
      devices_up: data.devices_up === null ? "?" : data.devices_up,
      open_faults: data.open_faults,
      last_seen: data.last_seen,
    };
    for (const [name, value] of Object.entries(fields)) {
      const el = tile.querySelector('[data-field="' + name + '"]');
      if (el) el.textContent = value;
    }
    if (before !== data.state + "|" + data.open_faults) {
      tile.classList.remove("changed");
      void tile.offsetWidth; // restart the flash animation
      tile.classList.add("changed");
    }
    return true;
  }

  function formBusy() {
    const main = document.getElementById("main");
    const active = document.activeElement;
    if (active && main.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return true;
    return Array.from(main.querySelectorAll("textarea, input[type=text]")).some((el) => el.value !== el.defaultValue);
  }

  // The newest refresh wins: an older one answering later would show a stale page; a live
  // one never replaces what the reader started typing meanwhile. The answer to the reader's
  // last action (#action-result) outlives a refresh: the server renders it hidden, and a
  // live refresh landing just after an action would erase it.
  let refreshing = false;
  let refreshes = 0;
  async function refreshMain(force) {
    if (!force && (refreshing || formBusy())) return;
    refreshing = true;
    const mine = ++refreshes;
    try {
      const response = await fetch(location.href, { headers: { "X-Requested-With": "live" }, credentials: "same-origin" });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("main");
      // the reader may have started typing while the page was fetched: theirs wins
      if (fresh && mine === refreshes && (force || !formBusy())) {
        const shown = document.getElementById("action-result");
        const kept = shown && !shown.hidden ? { text: shown.textContent, error: shown.classList.contains("error") } : null;
        document.getElementById("main").innerHTML = fresh.innerHTML;
        const result = document.getElementById("action-result");
        if (kept && result) {
          result.hidden = false;
          result.classList.toggle("error", kept.error);
          result.textContent = kept.text;
        }
        tickClocks();
      }
    } finally {
      if (mine === refreshes) refreshing = false;
    }
  }

  const liveGrid = body.dataset.live === "grid";
  const liveRoom = body.dataset.liveRoom;
  const liveFaults = body.dataset.liveFaults === "1";
  let roomSignature = null;
  let faultSignature = null;

  function onRooms(payload) {
    if (liveGrid) {
      const known = new Set();
      for (const data of payload.tiles) {
        known.add(data.id);
        if (!updateTile(data)) { location.reload(); return; }
      }
      if (document.querySelectorAll(".tile").length !== known.size) { location.reload(); return; }
      for (const [state, count] of Object.entries(payload.counts)) {
        const el = document.querySelector('[data-count="' + state + '"]');
        if (el) el.textContent = count;
      }
      applyFilters(false);
    }
    if (liveRoom) {
      const data = payload.tiles.find((t) => t.id === liveRoom);
      const signature = data ? [data.state, data.open_faults, data.unreachable, data.top_fault, data.agents_online].join("|") : "";
      if (roomSignature !== null && signature !== roomSignature) refreshMain();
      roomSignature = signature;
    }
    if (liveFaults) {
      if (faultSignature !== null && payload.faults !== faultSignature) refreshMain();
      faultSignature = payload.faults;
    }
  }

  const status = document.getElementById("live-status");
  if ((liveGrid || liveRoom || liveFaults) && window.EventSource) {
    const source = new EventSource(body.dataset.liveUrl);
    source.addEventListener("rooms", (event) => {
      status.hidden = false;
      status.classList.remove("down");
      status.textContent = zh ? "实时" : "live";
      body.dataset.liveReady = "1";
      onRooms(JSON.parse(event.data));
    });
    source.addEventListener("error", () => {
      status.hidden = false;
      status.classList.add("down");
      status.textContent = zh ? "重新连接中…" : "reconnecting…";
    });
  }

  // --- fault actions: forms posted to the API as JSON ------------------------------------
  // Repeated rows (parts replaced, spares used) become lists of objects; their inputs carry
  // data-field, not name, so FormData leaves them out. An empty row is skipped.
  function rowObject(row) {
    const part = {};
    row.querySelectorAll("[data-field]").forEach((input) => {
      const value = input.value.trim();
      if (value === "") return;
      part[input.dataset.field] = input.type === "number" ? parseInt(value, 10) : value;
    });
    const keys = Object.keys(part).filter((k) => k !== "quantity");
    if (keys.length === 0) return null;
    if (!part.name && part.model) part.name = part.model;
    return part;
  }
  function formBody(form) {
    const data = Object.fromEntries(new FormData(form).entries());
    form.querySelectorAll("[data-list]").forEach((list) => {
      data[list.dataset.list] = Array.from(list.querySelectorAll(".part-row")).map(rowObject).filter(Boolean);
    });
    form.querySelectorAll("[data-json]").forEach((input) => {
      // numbers and empty optionals as the API expects them
      const value = input.value.trim();
      if (input.dataset.json === "int") data[input.name] = value === "" ? null : parseInt(value, 10);
      else if (input.dataset.json === "num") data[input.name] = value === "" ? null : parseFloat(value);
      else if (input.dataset.json === "null" && value === "") data[input.name] = null;
      else if (input.dataset.json === "list") data[input.name] = value.split(/[,，\s]+/).filter(Boolean);
      // a local date and time (datetime-local) as an instant: the reader's clock is the site's
      else if (input.dataset.json === "datetime") data[input.name] = value === "" ? null : new Date(value).toISOString();
    });
    // a group of check boxes is one list (weekdays: numbers)
    form.querySelectorAll("fieldset[data-checks]").forEach((set) => {
      const values = Array.from(set.querySelectorAll("input[type=checkbox]:checked")).map((box) => box.value);
      data[set.dataset.checks] = set.dataset.as === "int" ? values.map((v) => parseInt(v, 10)) : values;
    });
    form.querySelectorAll("input[type=checkbox][data-bool]").forEach((box) => { data[box.name] = box.checked; });
    return data;
  }
  document.addEventListener("click", (event) => {
    const add = event.target.closest("button.add-row");
    if (!add) return;
    const rows = add.parentElement.querySelectorAll(".part-row");
    const copy = rows[rows.length - 1].cloneNode(true);
    copy.querySelectorAll("input").forEach((input) => { input.value = input.type === "number" ? "1" : ""; });
    add.before(copy);
  });
  const reportRoom = document.getElementById("report-room");
  function narrowDevices() {
    const select = document.getElementById("report-device");
    if (!reportRoom || !select) return;
    select.querySelectorAll("option[data-room]").forEach((option) => {
      option.hidden = option.dataset.room !== reportRoom.value;
      if (option.hidden && option.selected) select.value = "";
    });
  }
  if (reportRoom) { reportRoom.addEventListener("change", narrowDevices); narrowDevices(); }
  // An error in the reader's language: the status says what kind, a 422 names the fields by
  // their labels on the form.
  function labelOf(el) {
    if (!el) return "";
    const legend = el.tagName === "FIELDSET" ? el.querySelector("legend") : null;
    if (legend) return legend.textContent.trim();
    const label = el.closest("label");
    if (label && label.firstChild) return label.firstChild.textContent.trim();
    return (el.getAttribute("aria-label") || "").trim();
  }
  function errorText(form, status, payload) {
    if (status === 422 && payload && Array.isArray(payload.problems)) {
      const names = payload.problems.map((p) => {
        const loc = (p.loc || []).filter((x) => x !== "body");
        const field = loc.length ? String(loc[0]) : "";
        const el = field ? form.querySelector('[name="' + field + '"], [data-list="' + field + '"]') : null;
        return labelOf(el) || field;
      });
      return body.dataset.textE422 + Array.from(new Set(names)).join(", ");
    }
    const known = body.dataset["textE" + status];
    if (known) return known;
    return body.dataset.textFailed + status;
  }
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.api-form");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      // "{field}" in data-api is taken from the form (the site, a model, a user): the path, not the body
      const data = formBody(form);
      const target = form.dataset.api.replace(/{(\w+)}/g, (whole, name) => {
        const value = data[name];
        delete data[name];
        return encodeURIComponent(value == null ? "" : value);
      });
      const response = await fetch(target, {
        method: form.dataset.method || "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Requested-With": "roomwatch-web" },
        body: JSON.stringify(data),
      });
      if (!response.ok) {
        let payload = null;
        try { payload = await response.json(); } catch (e) { /* not JSON */ }
        // looked up now: a live refresh may have replaced the page while the API answered
        const result = document.getElementById("action-result");
        if (!result) return;
        result.hidden = false;
        result.classList.add("error");
        result.textContent = errorText(form, response.status, payload);
        return;
      }
      if (form.dataset.next) {
        // the new object's page: "{id}" in data-next is the id the API answered with
        let created = {};
        try { created = await response.clone().json(); } catch (e) { /* no body */ }
        window.location.assign(form.dataset.next.replace(encodeURIComponent("{id}"), created.id).replace("{id}", created.id));
        return;
      }
      // a field of the answer shown once (a new token's secret)
      let shown = "";
      if (form.dataset.show) {
        try { shown = (await response.clone().json())[form.dataset.show] || ""; } catch (e) { /* no body */ }
      }
      form.reset();
      form.querySelectorAll("textarea, input").forEach((el) => { el.defaultValue = el.value; });
      await refreshMain(true);
      const fresh = document.getElementById("action-result");
      if (fresh) { fresh.hidden = false; fresh.classList.remove("error"); fresh.textContent = body.dataset.textDone; }
      const secret = document.getElementById("shown-secret");
      if (secret && shown) { secret.hidden = false; secret.querySelector("code").textContent = shown; }
    } finally {
      button.disabled = false;
    }
  });

  // --- SLA countdowns ----------------------------------------------------------------------
  const breached = body.dataset.textBreached;
  const left = body.dataset.textLeft;
  function tickClocks() {
    const now = Date.now();
    document.querySelectorAll('.clock[data-live="1"]').forEach((clock) => {
      if (!clock.dataset.deadline) return;
      const remaining = (Date.parse(clock.dataset.deadline) - now) / 1000;
      const budget = parseFloat(clock.dataset.budget || "0");
      const amberAt = budget > 0 ? budget * 0.25 : 0;
      const urgency = remaining < 0 ? "red" : remaining <= amberAt ? "amber" : "ok";
      if (remaining < 0) clock.dataset.state = "breached";
      clock.classList.remove("u-ok", "u-amber", "u-red");
      clock.classList.add("u-" + urgency);
      const text = clock.querySelector(".clock-left");
      text.textContent = remaining < 0 ? breached + " " + duration(remaining) : duration(remaining) + " " + left;
    });
  }
  tickClocks();
  setInterval(tickClocks, 1000);
})();
