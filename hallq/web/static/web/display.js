/*
 * The display board: the latest call, large; recent calls; waiting counts per service; the
 * hall-local clock. Calls are spoken by HallqAnnouncer (announcer.js).
 *
 * Only live calls are spoken: nothing from the snapshot, and nothing replayed after a
 * reconnect that happened more than FRESH_MS ago — a board coming back after a network drop
 * must not read out a backlog of stale calls.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const Announcer = window.HallqAnnouncer;
  const body = document.body;
  const hallId = Number(body.dataset.hallId);
  const timeZone = body.dataset.timeZone;
  const FRESH_MS = 60000;
  const REFRESH_MS = 30000;
  const RECENT_LIMIT = 10;

  const byId = (id) => document.getElementById(id);

  const state = {
    lastCall: null,      // {ticket_id, number, counter_number, counter_name, recall, at}
    calls: [],
    progress: null,
    seq: 0,
    connected: false,
    announced: [],       // what was handed to the announcer, newest last
  };
  window.hallqDisplay = state;

  // ------------------------------------------------------------------- render

  function renderNow() {
    const call = state.lastCall;
    const now = byId('now');
    byId('now-call').hidden = !call;
    byId('now-empty').hidden = !!call;
    if (!call) return;
    byId('now-number').textContent = call.number;
    byId('now-counter').textContent = H.t('counter_label', { number: call.counter_number });
    byId('now-counter-name').textContent = call.counter_name || '';
    now.dataset.number = call.number;
    now.dataset.counter = call.counter_number;
  }

  function flash() {
    const now = byId('now');
    now.classList.remove('flash');
    void now.offsetWidth; // restart the animation
    now.classList.add('flash');
  }

  function renderRecent() {
    const list = byId('recent');
    list.textContent = '';
    byId('recent-empty').hidden = state.calls.length > 0;
    state.calls.slice(0, RECENT_LIMIT).forEach((call) => {
      const latest = state.lastCall && call.ticket_id === state.lastCall.ticket_id;
      const finished = ['done', 'no_show', 'transferred', 'expired'].indexOf(call.state) >= 0;
      list.append(H.h('li', {
        className: (latest ? 'latest' : '') + (finished && !latest ? ' done' : ''),
        dataset: { ticketId: call.ticket_id },
      },
      H.h('span', { className: 'num' }, call.number),
      H.h('span', { className: 'to' }, '→ ' + H.t('counter_label', { number: call.counter_number }))));
    });
  }

  function renderWaiting() {
    const list = byId('waiting');
    list.textContent = '';
    if (!state.progress) return;
    state.progress.services.forEach((service) => {
      list.append(H.h('li', { dataset: { serviceId: service.service_id } },
        H.h('span', null, service.prefix + ' ' + service.name),
        H.h('b', { className: 'num', 'aria-label': H.t('waiting_count', { count: service.waiting }) },
          service.waiting)));
    });
  }

  function render() {
    renderNow();
    renderRecent();
    renderWaiting();
  }

  // -------------------------------------------------------------------- state

  function callFromList(call) {
    return {
      ticket_id: call.ticket_id,
      number: call.number,
      counter_number: call.counter_number,
      counter_name: call.counter_name,
      recall: false,
      at: call.called_at,
    };
  }

  /** A list read from the server may know a call whose event this board missed. */
  function adoptNewestCall() {
    const newest = state.calls[0];
    if (!newest) return;
    if (!state.lastCall || Date.parse(newest.called_at) > Date.parse(state.lastCall.at)) {
      state.lastCall = callFromList(newest);
    }
  }

  async function refresh() {
    try {
      const results = await Promise.all([
        H.api('GET', '/halls/' + hallId + '/calls'),
        H.api('GET', '/halls/' + hallId + '/progress'),
      ]);
      state.calls = results[0];
      state.progress = results[1];
      adoptNewestCall();
      render();
    } catch (error) { /* the next event or the periodic refresh tries again */ }
  }

  const refreshSoon = H.debounce(refresh, 300);

  function onSnapshot(data) {
    state.seq = data.seq;
    state.calls = data.calls;
    state.progress = data.progress;
    adoptNewestCall();
    render();
  }

  function announce(call) {
    const item = { number: call.number, counter: String(call.counter_number), recall: call.recall };
    state.announced.push(item);
    if (state.announced.length > 50) state.announced.shift();
    if (Announcer) Announcer.announce(item);
  }

  function onCall(data, event) {
    const call = {
      ticket_id: data.ticket_id,
      number: data.number,
      counter_number: data.counter_number,
      counter_name: data.counter_name,
      recall: event.type === 'ticket.recalled',
      at: data.at,
    };
    state.lastCall = call;
    render();
    flash();
    if (H.now() - Date.parse(data.at) <= FRESH_MS) announce(call);
    refreshSoon();
  }

  function onEvent(handler) {
    return (data, event) => {
      if (data.seq <= state.seq) return; // already seen (a replay overlapping a snapshot)
      state.seq = data.seq;
      handler(data, event);
    };
  }

  // -------------------------------------------------------------------- sound

  let soundEnabled = false;

  function showSoundHint(show) {
    byId('sound-hint').hidden = !show || soundEnabled;
  }

  /** Whether this browser lets the page play audio before anyone has touched it. */
  function audioAllowed() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return Promise.resolve(true);
    let context;
    try {
      context = new Context();
    } catch (error) {
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const settle = () => {
        const running = context.state === 'running';
        context.close().catch(() => {});
        resolve(running);
      };
      if (context.state === 'running') settle();
      else setTimeout(settle, 300);
    });
  }

  function enableSound() {
    soundEnabled = true;
    showSoundHint(false);
    if (Announcer) Announcer.unlock();
  }

  // --------------------------------------------------------------------- start

  H.runClock(byId('clock'), byId('date'), timeZone);
  H.deviceToken('display', hallId); // keep the address bar free of the token
  if (Announcer) {
    Announcer.init({ baseUrl: body.dataset.voiceUrl || '/static/web/voice/' });
    audioAllowed().then((allowed) => showSoundHint(!allowed));
    window.addEventListener('hallq:locked', () => {
      soundEnabled = false;
      showSoundHint(true);
      armUnlock();
    });
  }
  // The first touch, click or key press anywhere unlocks audio (and again after a lock).
  function armUnlock() {
    const once = () => {
      document.removeEventListener('pointerdown', once, true);
      document.removeEventListener('keydown', once, true);
      enableSound();
    };
    document.addEventListener('pointerdown', once, true);
    document.addEventListener('keydown', once, true);
  }
  byId('sound-hint').addEventListener('click', enableSound);
  armUnlock();

  H.stream('/api/v1/halls/' + hallId + '/events', {
    snapshot: onSnapshot,
    'ticket.called': onEvent(onCall),
    'ticket.recalled': onEvent(onCall),
    '*': onEvent(refreshSoon),
  }, (value) => {
    state.connected = value === 'open';
    H.showConnection(byId('live'), value);
  });
  setInterval(refresh, REFRESH_MS);
})();
