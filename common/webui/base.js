// Helpers shared by the master's and the monitor's status pages
// (common/webui); each page's app.js takes them from window.lbui. Nothing
// here parses text from the network as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  // cell makes a table cell; the label heads it where rows become cards.
  function cell(cls, label) {
    const td = el('td', cls);
    if (label) td.dataset.label = label;
    return td;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function fmtAge(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s ago`;
    if (ms < 3600000) return `${Math.floor(ms / 60000)} min ago`;
    return `${Math.floor(ms / 3600000)} h ago`;
  }
  function fmtDuration(s) {
    s = Math.floor(s);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${s % 60} s`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ${m % 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }
  const fmtClock = (t) => (t ? new Date(t).toLocaleTimeString('en-GB') : '');
  const fmtInt = (n) => Number(n).toLocaleString('en-US');
  const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;

  // A server started with -api-token wants it as a bearer token. The page
  // takes it from its address (open it as /#token=TOKEN: a fragment never
  // reaches the server or its logs), keeps it for the tab's session, and
  // drops it from the address bar.
  const tokenKey = 'lb-api-token';
  (() => {
    const m = /^#token=(.+)$/.exec(location.hash);
    if (!m) return;
    sessionStorage.setItem(tokenKey, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  })();
  // jsonHeaders are the headers of the page's requests: JSON, and the token
  // when it has one.
  function jsonHeaders() {
    const h = { Accept: 'application/json' };
    const token = sessionStorage.getItem(tokenKey);
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  // getJSON fetches url as JSON, never from a cache; any status but 2xx
  // throws.
  async function getJSON(url) {
    const r = await fetch(url, { headers: jsonHeaders(), cache: 'no-store' });
    if (r.status === 401) throw new Error(`${url} wants the API token: open this page as /#token=TOKEN`);
    if (!r.ok) throw new Error(`${url} answered ${r.status}`);
    return r.json();
  }

  // liveIndicator returns setLive(ok, time, err) for the header's live dot
  // and the stale-figures banner of a page following who ("master").
  function liveIndicator(who) {
    return (ok, time, err) => {
      const banner = $('banner');
      $('live').dataset.state = ok ? 'live' : 'down';
      if (ok) {
        setText($('live-text'), `live · ${fmtClock(time)}`);
        banner.hidden = true;
      } else {
        setText($('live-text'), 'connection lost, retrying');
        banner.textContent = `The ${who} does not answer (${err.message}). The figures below are stale.`;
        banner.hidden = false;
      }
    };
  }

  // poll runs load once the page is ready, then every ms after the last run
  // ended, and at once when the page comes back into view; never two at a
  // time. load updates the page and returns the answer's time, or throws:
  // the live dot and the banner say which. poll returns a function that
  // runs load now.
  function poll(who, ms, load) {
    const setLive = liveIndicator(who);
    let timer = 0;
    let running = false;
    async function refresh() {
      clearTimeout(timer);
      if (running) return;
      running = true;
      try {
        setLive(true, await load());
      } catch (e) {
        setLive(false, null, e);
      } finally {
        running = false;
        timer = setTimeout(refresh, ms);
      }
    }
    document.addEventListener('DOMContentLoaded', () => {
      document.addEventListener('visibilitychange', () => {
        if (!document.hidden) refresh();
      });
      refresh();
    });
    return refresh;
  }

  window.lbui = Object.freeze({ $, el, cell, setText, fmtAge, fmtDuration, fmtClock, fmtInt, plural, jsonHeaders, getJSON, poll });
})();
