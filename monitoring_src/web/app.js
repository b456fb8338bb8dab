// Status page of the monitor: polls /api/status every second and updates
// the page in place. Everything is written with textContent: nothing from
// the network is parsed as HTML.
'use strict';

(() => {
  const REFRESH_MS = 1000;

  const { $, el, cell, setText, fmtAge, fmtDuration, fmtClock, fmtInt, plural, getJSON, poll } = window.lbui;

  // ---- formatting ----------------------------------------------------------

  // fmtInterval is a configured period, such as -interval.
  const fmtInterval = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : fmtDuration(ms / 1000));
  // ageAt is how long before the answer's time t was, in ms.
  const ageAt = (st, t) => (t ? Date.parse(st.time) - Date.parse(t) : null);

  // setLink makes node a link to url (only http and https) showing text.
  function setLink(node, text, url) {
    if (!/^https?:\/\//.test(url)) {
      setText(node, text);
      return;
    }
    let a = node.firstElementChild;
    if (!a || a.tagName !== 'A') {
      a = el('a');
      a.rel = 'noreferrer';
      node.replaceChildren(a);
    }
    if (a.getAttribute('href') !== url) a.href = url;
    setText(a, text);
  }

  // ---- fetching ------------------------------------------------------------

  poll('monitor', REFRESH_MS, async () => {
    const st = await getJSON('/api/status');
    renderOverview(st);
    renderGrafana(st);
    renderHosts(st);
    return st.time;
  });

  // ---- overview ------------------------------------------------------------

  function renderOverview(st) {
    const m = st.master;
    const connected = m.state === 'connected';
    const master = $('s-master');
    master.dataset.state = m.state;
    setText(master, connected ? m.address : 'looking for a master');
    master.title = connected ? `connected since ${fmtClock(m.since)}` : `join requests go to ${m.looking_for}`;
    setText($('s-since-label'), connected ? 'Connected for' : 'Looking for');
    setText($('s-since'), fmtDuration(m.since_ms / 1000));
    setText($('s-hosts'), fmtInt(st.hosts.length));
    setText($('s-slaves'), fmtInt(st.slaves));
    const g = $('s-grafana');
    g.dataset.state = st.grafana.state;
    setText(g, { ok: 'in step', failing: 'failing', pending: 'no sync yet' }[st.grafana.state] || st.grafana.state);
    setText($('s-uptime'), fmtDuration(st.uptime_seconds));

    const parts = [];
    if (st.slaves_at) {
      parts.push(`Slave list from the master every ${fmtInterval(st.interval_ms)}; ` +
        `the last one came ${fmtAge(st.slaves_age_ms)}.`);
    } else {
      parts.push(`No slave list yet; the master is asked every ${fmtInterval(st.interval_ms)}.`);
    }
    if (!connected) parts.push(`Join requests go to ${m.looking_for}.`);
    if (m.lost_at) {
      parts.push(`Master lost ${fmtAge(ageAt(st, m.lost_at))}${m.lost_cause ? `: ${m.lost_cause}` : ''}.`);
    }
    setText($('s-note'), parts.join(' '));
  }

  // ---- Grafana -------------------------------------------------------------

  function renderGrafana(st) {
    const g = st.grafana;
    const state = $('g-state');
    setText(state, g.state);
    state.dataset.v = g.state;

    setText($('g-success'), g.last_success_at ? fmtAge(g.last_success_age_ms) : 'never');
    $('g-success').title = g.last_success_at ? fmtClock(g.last_success_at) : '';
    const errAt = $('g-error-at');
    setText(errAt, g.last_error_at ? fmtAge(ageAt(st, g.last_error_at)) : 'none');
    errAt.dataset.kind = g.state === 'failing' ? 'error' : '';
    setText($('g-syncs'), g.failed_syncs ? `${fmtInt(g.syncs)} (${fmtInt(g.failed_syncs)} failed)` : fmtInt(g.syncs));
    setLink($('g-url'), g.url, g.url);
    setLink($('g-dashboard'), g.dashboard_uid, `${g.url}/d/${encodeURIComponent(g.dashboard_uid)}`);

    // The last error, highlighted: red while failing, amber once a later
    // sync succeeded.
    const alert = $('g-alert');
    const kind = !g.last_error ? 'none' : g.state === 'failing' ? 'error' : 'past';
    alert.dataset.kind = kind;
    alert.hidden = kind === 'none';
    if (kind !== 'none') {
      setText($('g-alert-head'), kind === 'error'
        ? `Grafana sync failing since ${fmtClock(g.last_error_at)} (last error ${fmtAge(ageAt(st, g.last_error_at))}); the next sync retries`
        : `Recovered: the last error was ${fmtAge(ageAt(st, g.last_error_at))}, a sync succeeded since`);
      setText($('g-error'), g.last_error);
    }

    const list = $('g-datasources');
    const have = [...list.children].map((li) => li.textContent);
    if (have.join('\n') !== g.datasources.join('\n')) {
      list.replaceChildren(...g.datasources.map((name) => el('li', 'chip', name)));
    }
    $('no-datasources').hidden = g.datasources.length > 0;
    setText($('grafana-summary'), g.syncs ? `${plural(g.syncs, 'sync')}, the last ${fmtAge(ageAt(st, g.last_sync_at))}` : '');
    setText($('g-repairs'), g.repairs
      ? `${fmtInt(g.repairs)}, the last ${fmtAge(ageAt(st, g.last_repair_at))}: ${g.last_repair}`
      : 'none needed');
  }

  // ---- slave hosts ---------------------------------------------------------

  const rows = new Map(); // host IP -> row parts

  function makeRow(ip) {
    const tr = el('tr');
    tr.dataset.ip = ip;
    const r = { tr, refsKey: '' };
    r.ip = cell('key c-ip');
    r.ip.textContent = ip;
    const dsTd = cell('c-ds', 'Datasource');
    const ds = el('div', 'ds');
    r.dsName = el('span', 'ds-name');
    r.dsBadge = el('span', 'badge');
    ds.append(r.dsName, r.dsBadge);
    dsTd.append(ds);
    r.count = cell('num c-count', 'Slaves');
    r.refs = cell('refs c-refs', 'Slave IDs · metrics ports');
    r.list = el('ul', 'chips');
    r.refs.append(r.list);
    tr.append(r.ip, dsTd, r.count, r.refs);
    return r;
  }

  function renderHosts(st) {
    const body = $('host-rows');
    const seen = new Set();
    st.hosts.forEach((h, i) => {
      seen.add(h.ip);
      let r = rows.get(h.ip);
      if (!r) {
        r = makeRow(h.ip);
        rows.set(h.ip, r);
      }
      if (body.children[i] !== r.tr) body.insertBefore(r.tr, body.children[i] || null);
      // In Grafana is not enough: Grafana must also reach the host's Prometheus.
      const ds = !h.in_grafana ? 'missing'
        : h.health === 'failing' ? 'Prometheus down'
          : h.health === 'ok' ? 'in Grafana' : 'checking';
      r.tr.dataset.datasource = ds;
      setText(r.dsName, h.datasource);
      setText(r.dsBadge, ds);
      r.dsBadge.dataset.v = ds;
      r.dsBadge.title = h.health_message || '';
      setText(r.count, fmtInt(h.slaves.length));
      const key = h.slaves.map((s) => `${s.id}:${s.metrics_port}`).join(' ');
      if (key !== r.refsKey) {
        r.refsKey = key;
        r.list.replaceChildren(...h.slaves.map((s) => {
          const li = el('li', 'chip', `${s.id} · :${s.metrics_port}`);
          li.title = `slave ${s.slave}, metrics at ${h.ip}:${s.metrics_port}/metrics`;
          return li;
        }));
      }
    });
    for (const [ip, r] of rows) {
      if (!seen.has(ip)) {
        r.tr.remove();
        rows.delete(ip);
      }
    }
    $('no-hosts').hidden = st.hosts.length > 0;
    const missing = st.hosts.filter((h) => !h.in_grafana).length;
    const down = st.hosts.filter((h) => h.in_grafana && h.health === 'failing').length;
    setText($('hosts-summary'), st.hosts.length
      ? `${plural(st.hosts.length, 'host')} · ${plural(st.slaves, 'slave')}${missing ? ` · ${missing} without a datasource` : ''}${down ? ` · ${down} whose Prometheus does not answer` : ''}`
      : '');
  }

})();
