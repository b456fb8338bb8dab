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

  window.lbui = Object.freeze({ $, el, cell, setText, fmtAge, fmtDuration, fmtClock, fmtInt, plural, liveIndicator });
})();
