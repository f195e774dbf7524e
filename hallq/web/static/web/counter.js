/*
 * The counter workstation: sign in, choose a counter, then work it — call, recall, start,
 * finish, no-show, transfer, pause — with the waiting list and today's no-shows (from
 * GET /counters/{id}) kept live by the hall's event stream. The staff token lives in sessionStorage (this tab only).
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const SESSION_KEY = 'hallq:counter-session';
  const COUNTER_KEY = 'hallq:counter-id';
  const REFRESH_MS = 30000;
  const STATUS_MS = 6000;
  const SHORTCUTS = { F1: 'call-next', F2: 'recall', F3: 'start', F4: 'finish', F6: 'no-show' };

  const byId = (id) => document.getElementById(id);
  const views = ['signin-view', 'choose-view', 'work-view'].map(byId);

  let session = readJson(SESSION_KEY);   // {token, username, hall_ids}
  let counter = null;                    // GET /counters/{id}
  let hall = null;                       // {id, name, time_zone}
  let services = [];                     // the hall's services
  let events = null;                     // the hall's event stream
  let working = false;                   // an action is in flight
  let refreshTimer = null;

  // ----------------------------------------------------------------- storage

  function readJson(key) {
    try {
      return JSON.parse(sessionStorage.getItem(key) || 'null');
    } catch (error) {
      return null;
    }
  }

  function writeJson(key, value) {
    try {
      if (value == null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, JSON.stringify(value));
    } catch (error) { /* private mode: this page view only */ }
  }

  // ---------------------------------------------------------------- messages

  function showView(id) {
    views.forEach((view) => { view.hidden = view.id !== id; });
  }

  function showError(message) {
    const alert = byId('alert');
    alert.textContent = message;
    alert.hidden = !message;
    if (message) byId('status').hidden = true;
  }

  let statusTimer = null;

  /** A short confirmation; it fades after a few seconds so the screen does not jump about. */
  function showStatus(message) {
    const status = byId('status');
    status.textContent = message;
    status.hidden = !message;
    if (message) byId('alert').hidden = true;
    clearTimeout(statusTimer);
    if (message) statusTimer = setTimeout(() => { status.hidden = true; }, STATUS_MS);
  }

  /** Run an API call; show its error; on an expired sign-in go back to the sign-in form. */
  async function call(method, path, body) {
    try {
      return await H.api(method, path, body, session && session.token);
    } catch (error) {
      if (error.status === 401 && session) {
        signedOut(H.t('session_expired'), true);
      } else {
        showError(error.message);
      }
      throw error;
    }
  }

  // ------------------------------------------------------------------ sign in

  async function signIn(event) {
    event.preventDefault();
    const form = event.target;
    showError('');
    try {
      session = await H.api('POST', '/auth/token', {
        username: form.username.value.trim(),
        password: form.password.value,
      });
    } catch (error) {
      showError(error.message);
      form.password.select();
      return;
    }
    writeJson(SESSION_KEY, session);
    form.reset();
    showStatus('');
    choose();
  }

  function signedOut(message, isError) {
    if (events) events.close();
    events = null;
    clearInterval(refreshTimer);
    session = null;
    counter = null;
    writeJson(SESSION_KEY, null);
    writeJson(COUNTER_KEY, null);
    showView('signin-view');
    if (isError) showError(message);
    else showStatus(message);
    byId('username').focus();
  }

  // ------------------------------------------------------------------- choose

  async function choose(message) {
    if (events) events.close();
    events = null;
    clearInterval(refreshTimer);
    counter = null;
    writeJson(COUNTER_KEY, null);
    showView('choose-view');
    if (message) showStatus(message);
    byId('choose-user').textContent = session.username;
    const container = byId('choose-halls');
    container.textContent = '';
    let halls;
    try {
      halls = await call('GET', '/halls');
    } catch (error) {
      return;
    }
    // An administrator belongs to no hall yet may work in all of them.
    const mine = session.hall_ids.length
      ? halls.filter((item) => session.hall_ids.indexOf(item.id) >= 0) : halls;
    if (!mine.length) {
      container.append(H.h('p', { className: 'empty' }, H.t('no_counters')));
      return;
    }
    for (const item of mine) {
      let counters;
      try {
        counters = await call('GET', '/halls/' + item.id + '/counters');
      } catch (error) {
        return;
      }
      const grid = H.h('div', { className: 'counter-grid' });
      counters.forEach((choice) => grid.append(counterChoice(choice)));
      container.append(H.h('h2', null, item.name), grid);
    }
  }

  function counterChoice(choice) {
    const occupied = choice.staff && choice.staff !== session.username;
    return H.h('button', {
      type: 'button',
      className: 'counter-choice',
      dataset: { counterId: choice.id, counterNumber: choice.number },
      onclick: () => openCounter(choice.id),
    },
    H.h('strong', null, H.t('counter_label', { number: choice.number })),
    H.h('span', null, choice.name),
    H.h('span', null, H.t('counter_' + choice.state) + (occupied ? ' · ' + H.t('occupied_by', { staff: choice.staff }) : '')));
  }

  async function openCounter(counterId) {
    showError('');
    try {
      await call('POST', '/counters/' + counterId + '/open');
    } catch (error) {
      return;
    }
    writeJson(COUNTER_KEY, counterId);
    work(counterId);
  }

  // --------------------------------------------------------------------- work

  async function work(counterId) {
    try {
      counter = await call('GET', '/counters/' + counterId);
    } catch (error) {
      if (error.status !== 401) choose();
      return;
    }
    if (counter.state === 'closed' || counter.staff !== session.username) {
      choose();
      return;
    }
    try {
      const results = await Promise.all([call('GET', '/halls'), call('GET', '/halls/' + counter.hall_id + '/services')]);
      hall = results[0].filter((item) => item.id === counter.hall_id)[0];
      services = results[1];
    } catch (error) {
      return;
    }
    showView('work-view');
    fillTransferChoices();
    render();
    listen();
    clearInterval(refreshTimer);
    refreshTimer = setInterval(reload, REFRESH_MS);
  }

  async function reload() {
    if (!counter) return;
    try {
      counter = await call('GET', '/counters/' + counter.id);
    } catch (error) {
      return;
    }
    if (counter.state === 'closed' || counter.staff !== session.username) {
      choose(H.t('counter_left'));
      return;
    }
    render();
  }

  const reloadSoon = H.debounce(reload, 300);

  function listen() {
    if (events) events.close();
    events = H.stream('/api/v1/halls/' + counter.hall_id + '/events', {
      '*': reloadSoon,
    }, (state) => H.showConnection(byId('live'), state));
  }

  // ------------------------------------------------------------------- render

  function render() {
    byId('work-title').textContent = H.t('counter_label', { number: counter.number }) + ' ' + counter.name;
    byId('work-hall').textContent = hall ? hall.name : '';
    byId('work-user').textContent = counter.staff || '';
    const state = byId('counter-state');
    state.textContent = H.t('counter_' + counter.state);
    state.className = 'pill pill-' + counter.state;
    byId('pause-label').textContent = H.t(counter.state === 'paused' ? 'resume' : 'pause');
    renderCurrent();
    renderWaiting();
    renderNoShows();
  }

  function renderCurrent() {
    const ticket = counter.current;
    const number = byId('current-number');
    const state = byId('current-state');
    const facts = byId('current-facts');
    number.hidden = state.hidden = facts.hidden = !ticket;
    facts.textContent = '';
    byId('current-empty').textContent = ticket ? '' : H.t('no_current');
    if (ticket) {
      number.textContent = ticket.number;
      state.textContent = H.t('state_' + ticket.state);
      state.className = 'pill pill-' + ticket.state;
      const tz = hall ? hall.time_zone : undefined;
      const waited = (Date.parse(ticket.called_at || H.now()) - Date.parse(ticket.issued_at)) / 1000;
      facts.append(
        H.h('strong', null, ticket.service_name),
        H.h('span', null, H.t('waited', { duration: H.formatDuration(waited) })),
        H.h('span', { className: 'muted num' }, H.t('issued_called', {
          issued: H.formatTime(ticket.issued_at, tz),
          called: ticket.called_at ? H.formatTime(ticket.called_at, tz) : '—',
        })),
      );
      if (ticket.recall_count) facts.append(H.h('span', { className: 'muted' }, H.t('recalls', { count: ticket.recall_count })));
    }
    const called = ticket && ticket.state === 'called';
    const serving = ticket && ticket.state === 'serving';
    enable('call-next', counter.state === 'open' && !called);
    byId('call-hint').hidden = !called;
    enable('recall', called);
    enable('start', called);
    enable('finish', called || serving);
    enable('no-show', called);
    byId('transfer-button').disabled = working || !ticket;
    byId('transfer-service').disabled = !ticket;
    Array.prototype.forEach.call(byId('transfer-service').options, (option) => {
      option.disabled = !!ticket && Number(option.value) === ticket.service_id;
    });
  }

  function enable(action, allowed) {
    document.querySelector('[data-action="' + action + '"]').disabled = working || !allowed;
  }

  function renderWaiting() {
    const body = byId('waiting');
    body.textContent = '';
    byId('waiting-count').textContent = counter.waiting_count;
    byId('waiting-empty').hidden = counter.waiting.length > 0;
    byId('waiting-table').hidden = counter.waiting.length === 0;
    counter.waiting.forEach((ticket, index) => {
      body.append(H.h('tr', { className: index === 0 ? 'next' : '', dataset: { ticketId: ticket.id } },
        H.h('td', { className: 'num muted right' }, index + 1),
        H.h('td', { className: 'ticket-number num' }, ticket.number),
        H.h('td', null, ticket.service_name),
        H.h('td', null, H.h('span', { className: 'pill' }, H.t('band_' + ticket.band))),
        H.h('td', { className: 'num right' }, H.formatDuration(ticket.waited_seconds))));
    });
  }

  function renderNoShows() {
    const body = byId('no-shows');
    body.textContent = '';
    const noShows = counter.no_shows;
    byId('no-shows-table').hidden = !noShows.length;
    byId('no-shows-empty').hidden = noShows.length > 0;
    const tz = hall ? hall.time_zone : undefined;
    noShows.forEach((ticket) => {
      body.append(H.h('tr', { dataset: { ticketId: ticket.id } },
        H.h('td', { className: 'ticket-number num' }, ticket.number),
        H.h('td', null, ticket.service_name),
        H.h('td', { className: 'num' }, H.formatTime(ticket.at, tz)),
        H.h('td', null, H.h('button', {
          type: 'button', className: 'btn', onclick: () => reinstate(ticket),
        }, H.t('reinstate')))));
    });
  }

  function fillTransferChoices() {
    const select = byId('transfer-service');
    while (select.options.length > 1) select.remove(1);
    services.forEach((service) => select.add(new Option(service.prefix + ' ' + service.name, service.id)));
  }

  async function reinstate(entry) {
    try {
      await call('POST', '/tickets/' + entry.id + '/reinstate');
    } catch (error) {
      reload();
      return;
    }
    showStatus(H.t('reinstated_number', { number: entry.number }));
    reload();
  }

  // ------------------------------------------------------------------ actions

  const RESULT_MESSAGES = {
    'call-next': 'called_number',
    recall: 'recalled_number',
    start: 'serving_number',
    finish: 'finished_number',
    'no-show': 'no_show_number',
  };

  async function act(action) {
    if (!counter || working) return;
    const button = document.querySelector('[data-action="' + action + '"]');
    if (button && button.disabled) return;
    working = true;
    renderCurrent();
    try {
      const ticket = await call('POST', '/counters/' + counter.id + '/' + action);
      if (ticket === null) showStatus(H.t('nobody_waiting'));
      else showStatus(H.t(RESULT_MESSAGES[action], { number: ticket.number }));
      if (action === 'no-show' && ticket) {
        addNoShow({ id: ticket.id, number: ticket.number, service_id: ticket.service_id, at: new Date(H.now()).toISOString() });
      }
    } catch (error) {
      /* shown by call() */
    } finally {
      working = false;
    }
    await reload();
  }

  async function transfer(event) {
    event.preventDefault();
    const ticket = counter && counter.current;
    const serviceId = Number(byId('transfer-service').value);
    if (!ticket || working) return;
    if (!serviceId) {
      byId('transfer-service').focus();
      return;
    }
    working = true;
    try {
      const successor = await call('POST', '/tickets/' + ticket.id + '/transfer', { service_id: serviceId });
      showStatus(H.t('transferred_number', { number: ticket.number, new_number: successor.number }));
      byId('transfer-service').value = '';
    } catch (error) {
      /* shown by call() */
    } finally {
      working = false;
    }
    await reload();
  }

  async function togglePause() {
    if (!counter || working) return;
    const resume = counter.state === 'paused';
    try {
      await call('POST', '/counters/' + counter.id + (resume ? '/resume' : '/pause'));
      showStatus(H.t(resume ? 'resumed' : 'paused'));
    } catch (error) {
      return;
    }
    await reload();
  }

  async function signOut() {
    if (counter) {
      try {
        await call('POST', '/counters/' + counter.id + '/close');
      } catch (error) {
        return; // e.g. a ticket is still active: the message says so
      }
    }
    try {
      await H.api('POST', '/auth/logout', null, session.token); // revoke the token itself
    } catch (error) { /* already expired: nothing to revoke */ }
    signedOut(H.t('signed_out'), false);
  }

  function onKey(event) {
    if (byId('work-view').hidden || event.altKey || event.ctrlKey || event.metaKey) return;
    if (SHORTCUTS[event.key]) {
      event.preventDefault();
      act(SHORTCUTS[event.key]);
    } else if (event.key === 'F7') {
      event.preventDefault();
      if (byId('transfer-service').value) byId('transfer-form').requestSubmit();
      else byId('transfer-service').focus();
    } else if (event.key === 'F8') {
      event.preventDefault();
      togglePause();
    }
  }

  // -------------------------------------------------------------------- start

  byId('signin-form').addEventListener('submit', signIn);
  byId('transfer-form').addEventListener('submit', transfer);
  byId('pause').addEventListener('click', togglePause);
  byId('signout').addEventListener('click', signOut);
  byId('choose-signout').addEventListener('click', () => signedOut('', false));
  document.querySelectorAll('[data-action]').forEach((button) => {
    button.addEventListener('click', () => act(button.dataset.action));
  });
  document.addEventListener('keydown', onKey);

  if (!session) {
    showView('signin-view');
    byId('username').focus();
  } else if (readJson(COUNTER_KEY)) {
    work(readJson(COUNTER_KEY));
  } else {
    choose();
  }
})();
