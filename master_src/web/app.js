// Status page of the master: polls /api/status, /api/slaves and /api/tasks
// every second and updates the page in place; runs tasks from the form.
// Everything is written with textContent: nothing from the network is
// parsed as HTML.
'use strict';

(() => {
  const REFRESH_MS = 1000;
  const TASK_ROWS = 20;
  const HISTORY_TAIL = 10; // load reports asked for once the page has a slave's history
  const SVG = 'http://www.w3.org/2000/svg';
  const SPARK_W = 100;
  const SPARK_H = 28;

  const { $, el, cell, setText, fmtAge, fmtDuration, fmtInt, plural, jsonHeaders, getJSON, poll } = window.lbui;

  // ---- formatting ----------------------------------------------------------

  const SI = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  function fmtQty(x) {
    if (x === null || x === undefined) return '–';
    if (x === 0) return '0';
    const a = Math.abs(x);
    if (a < 1000) return String(+x.toPrecision(3));
    let i = 0;
    let v = x;
    while (Math.abs(v) >= 1000 && i < SI.length - 1) { v /= 1000; i++; }
    return `${+v.toPrecision(3)} ${SI[i]}`;
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1) return `${ms.toFixed(2)} ms`;
    if (ms < 100) return `${ms.toFixed(1)} ms`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  }
  function fmtSpan(ms) {
    const s = Math.round(ms / 1000);
    return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
  }

  // ---- fetching ------------------------------------------------------------

  const refresh = poll('master', REFRESH_MS, async () => {
    const full = needFullHistory;
    needFullHistory = false;
    try {
      const [st, sl, tk] = await Promise.all([
        getJSON('/api/status'),
        getJSON(full ? '/api/slaves' : `/api/slaves?history=${HISTORY_TAIL}`),
        getJSON(`/api/tasks?limit=${TASK_ROWS}`),
      ]);
      const t0 = performance.now();
      renderStatus(st);
      renderSlaves(sl);
      renderTasks(tk);
      // Visible in the browser's performance tools, and read by the tests.
      performance.clearMeasures('lb-render');
      performance.measure('lb-render', { start: t0, end: performance.now() });
      return st.time;
    } catch (e) {
      needFullHistory = needFullHistory || full;
      throw e;
    }
  });

  // ---- overview ------------------------------------------------------------

  function renderStatus(st) {
    setText($('s-algorithm'), st.algorithm);
    setText($('s-uptime'), fmtDuration(st.uptime_seconds));
    setText($('s-slaves'), `${st.slaves} / ${st.max_slaves}`);
    setText($('s-rps'), st.requests_per_second.toFixed(st.requests_per_second < 10 ? 1 : 0));
    setText($('s-queue'), fmtInt(st.queue_length));
    setText($('s-p50'), fmtMs(st.latency_p50_ms));
    setText($('s-p99'), fmtMs(st.latency_p99_ms));
    setText($('s-cancelled'), fmtInt(st.tasks_cancelled));
    setText($('s-hedged'), fmtInt(st.tasks_hedged));
    setText($('s-ejected'), `${fmtInt(st.slaves_ejected)} now`);
    $('s-ejected').title = `${plural(st.ejections, 'ejection')} since start`;
    setText($('s-window'), `Rate and latency over the last ${st.window_seconds} s of task requests ` +
      `(${plural(st.requests_in_window, 'request')}); ${plural(st.tasks_total, 'task')} since start.`);
    syncTaskOptions(st.tasks);
  }

  // syncTaskOptions keeps the form's task list as /api/status lists them:
  // the built-ins take n, the slaves' own tasks an input (sent as a POST
  // body). A task no slave offers now stays, marked.
  function syncTaskOptions(kinds) {
    const select = $('task');
    const key = kinds.map((k) => `${k.name}:${k.slaves > 0}:${k.max_n || k.max_input}`).join(',');
    if (select.dataset.key === key) return;
    select.dataset.key = key;
    const chosen = select.value;
    const opts = kinds.map((k) => {
      const o = el('option', '', k.slaves > 0 ? k.name : `${k.name} (no slave offers it now)`);
      o.value = k.name;
      if (k.builtin) o.dataset.maxN = String(k.max_n);
      else o.dataset.maxInput = String(k.max_input);
      o.selected = k.name === chosen;
      return o;
    });
    select.replaceChildren(...opts);
    updateHint();
  }

  // ---- slaves --------------------------------------------------------------

  const rows = new Map(); // slave key -> row parts
  const histories = new Map(); // slave key -> {reports, values}
  let needFullHistory = true;

  // mergeHistory keeps the page's copy of a slave's load history: the API
  // sends the last values up to report number s.reports.
  function mergeHistory(s, cap) {
    const vals = s.load_history;
    let h = histories.get(s.slave);
    if (!h || s.reports < h.reports) {
      if (s.reports > vals.length && vals.length < cap) needFullHistory = true;
      h = { reports: s.reports, values: vals.slice() };
      histories.set(s.slave, h);
      return h.values;
    }
    const fresh = s.reports - h.reports;
    if (fresh > vals.length) {
      if (vals.length < cap) needFullHistory = true;
      h.values = vals.slice();
    } else if (fresh > 0) {
      h.values.push(...vals.slice(vals.length - fresh));
    }
    h.reports = s.reports;
    if (h.values.length > cap) h.values.splice(0, h.values.length - cap);
    return h.values;
  }

  function makeRow(key) {
    const tr = el('tr');
    tr.dataset.key = key;
    const r = { tr };
    r.key = cell('key c-key');
    r.key.textContent = key;
    r.state = el('span', 'badge');
    const stateTd = cell('c-state');
    stateTd.append(r.state);
    r.load = cell('num c-load', 'Load');
    const meterTd = cell('c-meter', 'Committed / max');
    const meter = el('div', 'meter');
    r.bar = el('div', 'bar');
    r.bar.setAttribute('role', 'img');
    r.fill = el('span');
    r.bar.append(r.fill);
    r.meterText = el('span', 'meter-text');
    meter.append(r.bar, r.meterText);
    meterTd.append(meter);
    r.inFlight = cell('num c-inflight', 'In flight');
    r.done = cell('num c-done', 'Done');
    r.refused = cell('num c-refused', 'Refused');
    r.cancelled = cell('num c-cancelled', 'Cancelled');
    r.hedged = cell('num c-hedged', 'Hedged');
    r.age = cell('num c-age', 'Last report');
    const sparkTd = cell('c-spark', 'Load history');
    r.spark = document.createElementNS(SVG, 'svg');
    r.spark.setAttribute('class', 'spark');
    r.spark.setAttribute('viewBox', `0 0 ${SPARK_W} ${SPARK_H}`);
    r.spark.setAttribute('preserveAspectRatio', 'none');
    r.spark.setAttribute('role', 'img');
    r.area = document.createElementNS(SVG, 'path');
    r.area.setAttribute('class', 'area');
    r.line = document.createElementNS(SVG, 'polyline');
    r.line.setAttribute('class', 'line');
    r.spark.append(r.area, r.line);
    sparkTd.append(r.spark);
    tr.append(r.key, stateTd, r.load, meterTd, r.inFlight, r.done, r.refused, r.cancelled, r.hedged, r.age, sparkTd);
    return r;
  }

  function drawSpark(r, values, cap, pollMs, key) {
    const n = values.length;
    if (n === 0) {
      r.line.setAttribute('points', '');
      r.area.setAttribute('d', '');
      r.spark.setAttribute('aria-label', `no load report from ${key} yet`);
      return;
    }
    const peak = Math.max(...values);
    const top = peak > 0 ? peak : 1;
    const step = SPARK_W / Math.max(cap - 1, 1);
    const x0 = SPARK_W - (n - 1) * step; // the newest report is at the right edge
    const pts = values.map((v, i) => {
      const x = (x0 + i * step).toFixed(2);
      const y = (SPARK_H - 1 - (v / top) * (SPARK_H - 3)).toFixed(2);
      return `${x},${y}`;
    });
    r.line.setAttribute('points', pts.join(' '));
    r.area.setAttribute('d', `M${x0.toFixed(2)},${SPARK_H} L${pts.join(' L')} L${SPARK_W},${SPARK_H} Z`);
    r.spark.setAttribute('aria-label',
      `load of ${key} over the last ${fmtSpan(n * pollMs)}: now ${fmtQty(values[n - 1])}, peak ${fmtQty(peak)}`);
  }

  function renderSlaves(sl) {
    const body = $('slave-rows');
    const seen = new Set();
    const counts = { serving: 0, ejected: 0, joining: 0, draining: 0, lost: 0 };
    sl.slaves.forEach((s, i) => {
      seen.add(s.slave);
      counts[s.state] = (counts[s.state] || 0) + 1;
      let r = rows.get(s.slave);
      if (!r) {
        r = makeRow(s.slave);
        rows.set(s.slave, r);
      }
      if (body.children[i] !== r.tr) body.insertBefore(r.tr, body.children[i] || null);
      r.tr.dataset.state = s.state;
      setText(r.state, s.state);
      r.state.dataset.v = s.state;
      r.state.title = s.state === 'lost' ? `lost: ${s.lost_cause || 'unknown cause'}`
        : s.state === 'ejected' ? `ejected until ${s.ejected_until} (${plural(s.ejections, 'ejection')}): its tries timed out or failed in a row`
          : s.ejections ? plural(s.ejections, 'ejection') : '';
      const listed = s.state !== 'joining';
      setText(r.load, listed ? fmtQty(s.load) : '–');
      r.load.title = listed ? `master's view ${s.load}; last reported ${s.reported_load} (CPU fraction ${s.cpu_fraction})` : '';
      const frac = s.max_load > 0 ? Math.min(s.committed_load / s.max_load, 1) : 0;
      r.fill.style.width = `${(frac * 100).toFixed(1)}%`;
      r.bar.dataset.level = frac >= 0.9 ? 'full' : frac >= 0.7 ? 'high' : 'ok';
      const pct = frac > 0 && frac < 0.001 ? '<0.1' : (frac * 100).toFixed(frac < 0.1 ? 1 : 0);
      r.bar.setAttribute('aria-label', `${pct}% of max load committed`);
      setText(r.meterText, listed ? `${fmtQty(s.committed_load)} / ${fmtQty(s.max_load)}` : '–');
      r.meterText.title = `${pct}% (${s.committed_load} of ${s.max_load})`;
      setText(r.inFlight, fmtInt(s.tasks_in_flight));
      setText(r.done, fmtInt(s.tasks_done));
      r.done.title = s.tasks_failed ? `${s.tasks_failed} failed` : '';
      setText(r.refused, fmtInt(s.tasks_refused));
      setText(r.cancelled, fmtInt(s.tasks_cancelled));
      setText(r.hedged, fmtInt(s.tasks_hedged));
      r.hedged.title = 'tasks sent to this slave as a hedge for a slow try elsewhere';
      setText(r.age, fmtAge(s.last_report_age_ms));
      drawSpark(r, mergeHistory(s, sl.history_length), sl.history_length, sl.poll_interval_ms, s.slave);
    });
    for (const [key, r] of rows) {
      if (!seen.has(key)) {
        r.tr.remove();
        rows.delete(key);
        histories.delete(key);
      }
    }
    $('no-slaves').hidden = sl.slaves.length > 0;
    setText($('th-history'), `Load, last ${fmtSpan(sl.history_length * sl.poll_interval_ms)}`);
    const parts = Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
    setText($('slaves-summary'), parts.length ? parts.join(' · ') : '');
  }

  // ---- recent tasks --------------------------------------------------------

  function renderTasks(tk) {
    const now = Date.parse(tk.time);
    const frag = document.createDocumentFragment();
    for (const t of tk.tasks) {
      const tr = el('tr');
      tr.dataset.status = t.status;
      tr.title = `task ${t.task_id} on ${t.slave || 'no slave'}, ${fmtMs(t.duration_ms)}`;
      const status = el('span', 'badge', t.status);
      status.dataset.v = t.status;
      const statusTd = el('td');
      statusTd.append(status);
      if (t.error) statusTd.title = t.error;
      let result = t.result;
      if (t.result_truncated) result += '…';
      const resultTd = el('td', 'result', t.status === 'ok' ? result : t.error);
      resultTd.title = t.status === 'ok'
        ? (t.result_truncated ? `${fmtInt(t.result_length)} characters` : t.result)
        : t.error;
      tr.append(
        el('td', 'num', String(t.task_id)),
        el('td', '', t.task),
        el('td', 'num', fmtInt(t.n)),
        el('td', 'key', t.slave || '–'),
        el('td', 'num', fmtMs(t.duration_ms)),
        statusTd,
        resultTd,
        el('td', 'num', fmtAge(now - Date.parse(t.finished_at))),
      );
      frag.append(tr);
    }
    $('task-rows').replaceChildren(frag);
    $('no-tasks').hidden = tk.tasks.length > 0;
    setText($('tasks-summary'), tk.tasks.length ? `the last ${tk.tasks.length} of up to ${tk.capacity} kept` : '');
  }

  // ---- the task form -------------------------------------------------------

  let runSeq = 0;

  function showAnswer(kind, head, value) {
    const box = $('answer');
    box.dataset.kind = kind;
    const h = el('div', 'answer-head', head);
    const parts = [h];
    if (value !== undefined) {
      const out = el('output', 'answer-value', value);
      out.id = 'answer-value';
      parts.push(out);
    }
    box.replaceChildren(...parts);
  }

  function updateHint() {
    const opt = $('task').selectedOptions[0];
    if (!opt) return;
    const builtin = opt.dataset.maxN !== undefined;
    setText(document.querySelector('label[for="n"]'), builtin ? 'n' : 'input');
    $('n').inputMode = builtin ? 'numeric' : 'text';
    $('n').placeholder = builtin ? 'e.g. 90' : 'text';
    setText($('n-hint'), builtin ? `A whole number from 0 to ${fmtInt(opt.dataset.maxN)}.`
      : `Text of up to ${fmtInt(opt.dataset.maxInput)} bytes, sent as the body of a POST.`);
  }

  async function runTask(ev) {
    ev.preventDefault();
    const opt = $('task').selectedOptions[0];
    const task = $('task').value;
    const builtin = !opt || opt.dataset.maxN !== undefined;
    const n = builtin ? $('n').value.trim() : $('n').value;
    const seq = ++runSeq;
    showAnswer('busy', builtin ? `Running ${task}(${n})…` : `Running ${task}…`);
    let status = 0;
    let body = null;
    try {
      const r = builtin
        ? await fetch(`/${encodeURIComponent(task)}?n=${encodeURIComponent(n)}`, { headers: jsonHeaders(), cache: 'no-store' })
        : await fetch(`/${encodeURIComponent(task)}`, { method: 'POST', body: n, headers: jsonHeaders(), cache: 'no-store' });
      status = r.status;
      try { body = await r.json(); } catch { body = { error: `the master answered ${r.status} ${r.statusText}` }; }
    } catch (e) {
      body = { error: `the master could not be reached: ${e.message}` };
    }
    if (seq !== runSeq) return; // a later run owns the answer box
    if (status === 200 && body && typeof body.result_base64 === 'string') {
      showAnswer('ok', `${body.task} (${fmtInt(body.input_bytes)} bytes in) · task #${body.task_id} on ${body.slave} · ` +
        `${fmtMs(body.duration_ms)} · a binary result, in base64`, body.result_base64);
    } else if (status === 200 && body && typeof body.result === 'string' && body.input_bytes !== undefined) {
      showAnswer('ok', `${body.task} (${fmtInt(body.input_bytes)} bytes in) · task #${body.task_id} on ${body.slave} · ` +
        `${fmtMs(body.duration_ms)}`, body.result);
    } else if (status === 200 && body && typeof body.result === 'string') {
      const digits = body.result.length > 30 ? ` · ${fmtInt(body.result.length)} digits` : '';
      showAnswer('ok', `${body.task}(${body.n}) · task #${body.task_id} on ${body.slave} · ` +
        `${fmtMs(body.duration_ms)}${digits}`, body.result);
    } else {
      showAnswer('error', status ? `Error ${status}` : 'Error', (body && body.error) || 'unknown error');
    }
    refresh();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('task-form').addEventListener('submit', runTask);
    $('task').addEventListener('change', updateHint);
    updateHint();
  });
})();
