/*
 * The ticket kiosk: one big button per service with its live queue; a tap issues a walk-in
 * ticket, shows it, prints it and returns to the services after a few seconds.
 * The device token comes from #token=… once and is kept in localStorage.
 *
 * window.hallqKiosk lets kiosk_check_in.js show and print appointment tickets the same way.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const body = document.body;
  const hallId = Number(body.dataset.hallId);
  const timeZone = body.dataset.timeZone;
  const RETURN_AFTER_SECONDS = 8;
  const QR_WAIT_MS = 2000;
  // The official account's code needs WeChat: a ticket is not held up longer than this for it.
  const WECHAT_QR_WAIT_MS = 3000;
  const REFRESH_MS = 30000;

  const byId = (id) => document.getElementById(id);
  const servicesElement = byId('services');
  const card = byId('ticket-card');
  const overlays = Array.from(document.querySelectorAll('.kiosk-overlay'));

  let token = H.deviceToken('kiosk', hallId);
  let progressByService = {};
  const buttons = {}; // service id -> {button, queue}
  let busy = false;
  let countdownTimer = null;
  let qrObjectUrl = null;

  function showOverlay(id) {
    overlays.forEach((overlay) => { overlay.hidden = overlay.id !== id; });
  }

  function showUnregistered() {
    showOverlay('unregistered');
  }

  /** The token was refused (revoked, or of another hall): say so until an administrator acts. */
  function tokenRefused() {
    H.forgetDeviceToken('kiosk', hallId);
    token = '';
    showUnregistered();
  }

  // ---------------------------------------------------------------- services

  function serviceButton(service) {
    const queue = H.h('span', { className: 'service-queue' });
    const button = H.h('button', {
      type: 'button',
      className: 'service-button',
      dataset: { serviceId: service.id, prefix: service.prefix },
      onclick: () => issue(service),
    },
    H.h('span', { className: 'service-prefix', 'aria-hidden': 'true' }, service.prefix),
    H.h('span', { className: 'service-name' }, service.name),
    service.guide ? H.h('span', { className: 'service-guide' }, service.guide) : null,
    queue);
    buttons[service.id] = { button: button, queue: queue };
    return button;
  }

  function renderQueue(serviceId) {
    const entry = buttons[serviceId];
    const row = progressByService[serviceId];
    if (!entry || !row) return;
    entry.queue.textContent = '';
    entry.queue.append(
      H.t('waiting_count', { count: row.waiting }),
      H.h('span', { className: 'sep', 'aria-hidden': 'true' }, '|'),
      H.formatWait(row.estimated_wait_seconds),
    );
  }

  function applyProgress(progress) {
    progressByService = {};
    progress.services.forEach((row) => { progressByService[row.service_id] = row; });
    Object.keys(buttons).forEach(renderQueue);
  }

  async function loadServices() {
    try {
      const services = await H.api('GET', '/halls/' + hallId + '/services');
      servicesElement.textContent = '';
      services.forEach((service) => servicesElement.append(serviceButton(service)));
      servicesElement.setAttribute('aria-busy', 'false');
      Object.keys(buttons).forEach(renderQueue);
    } catch (error) {
      servicesElement.textContent = error.message;
      setTimeout(loadServices, 5000);
    }
  }

  async function loadProgress() {
    try {
      applyProgress(await H.api('GET', '/halls/' + hallId + '/progress'));
    } catch (error) { /* the next event or the periodic refresh tries again */ }
  }

  const refresh = H.debounce(loadProgress, 300);

  // ------------------------------------------------------------------ issuing

  function setBusy(value) {
    busy = value;
    Object.keys(buttons).forEach((id) => { buttons[id].button.disabled = value; });
  }

  async function issue(service) {
    if (busy) return;
    if (!token) {
      showUnregistered();
      return;
    }
    setBusy(true);
    showOverlay('issuing');
    try {
      const ticket = await H.api(
        'POST', '/halls/' + hallId + '/tickets', { service_id: service.id, channel: 'kiosk' }, token,
      );
      await presentTickets([ticket]);
    } catch (error) {
      setBusy(false);
      if (error.status === 401 || error.status === 403) {
        tokenRefused();
        return;
      }
      showError(error.message);
    }
    refresh();
  }

  /** An error shown large; with `returnAfterSeconds`, the kiosk goes back to the start by itself. */
  function showError(message, returnAfterSeconds) {
    byId('kiosk-error-text').textContent = message;
    byId('kiosk-error-countdown').textContent = '';
    showOverlay('kiosk-error');
    byId('kiosk-error-close').focus();
    if (returnAfterSeconds) startCountdown(byId('kiosk-error-countdown'), returnAfterSeconds);
  }

  function field(name) {
    return card.querySelector('[data-field="' + name + '"]');
  }

  function imageLoaded(image) {
    return new Promise((resolve) => {
      if (image.complete && image.naturalWidth) return resolve();
      const done = () => resolve();
      image.addEventListener('load', done, { once: true });
      image.addEventListener('error', done, { once: true });
      setTimeout(done, QR_WAIT_MS);
    });
  }

  function showQrImage(image, src) {
    image.style.visibility = 'hidden';
    const shown = () => { image.style.visibility = ''; };
    image.addEventListener('load', shown, { once: true });
    image.addEventListener('error', shown, { once: true });
    image.src = src;
  }

  /**
   * The ticket's QR code: the official account's code, whose scan binds the ticket so that its
   * holder is reminded before the call; the ticket page's link when the account is not
   * configured, WeChat did not answer in time, or anything else failed (a ticket is printed
   * whatever happens). Resolves with the kind shown: 'wechat' | 'link'.
   */
  async function showQr(ticket, image) {
    const query = '?token=' + encodeURIComponent(ticket.token);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), WECHAT_QR_WAIT_MS);
    if (qrObjectUrl) URL.revokeObjectURL(qrObjectUrl);
    qrObjectUrl = null;
    image.style.visibility = 'hidden'; // not the previous ticket's code while this one's comes
    try {
      const response = await fetch('/t/' + ticket.id + '/wechat-qr.svg' + query, {
        signal: controller.signal, cache: 'no-store', credentials: 'same-origin',
      });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const svg = await response.blob();
      qrObjectUrl = URL.createObjectURL(svg);
      showQrImage(image, qrObjectUrl);
      return response.headers.get('X-QR-Kind') === 'wechat' ? 'wechat' : 'link';
    } catch (error) {
      showQrImage(image, '/t/' + ticket.id + '/qr.svg' + query);
      return 'link';
    } finally {
      clearTimeout(timer);
    }
  }

  /** Show one ticket and print it. An appointment ticket (from check-in) shows its slot's
   * start where a walk-in ticket shows when it was issued. */
  async function showTicket(ticket) {
    const appointment = Boolean(ticket.starts_at);
    window.hallqKiosk.lastTicket = ticket;
    card.dataset.ticketId = ticket.id;
    card.dataset.ticketUrl = ticket.url;
    card.dataset.kind = appointment ? 'appointment' : 'walk_in';
    field('service').textContent = appointment
      ? H.t('appointment_service', { service: ticket.service_name }) : ticket.service_name;
    field('number').textContent = ticket.number;
    field('ahead').textContent = ticket.people_ahead == null ? '—' : ticket.people_ahead;
    field('wait').textContent = H.formatWait(ticket.estimated_wait_seconds);
    field('time-label').textContent = H.t(appointment ? 'appointment_time' : 'issued');
    field('issued').textContent = H.formatTime(appointment ? ticket.starts_at : ticket.issued_at, timeZone);
    const qr = field('qr');
    delete card.dataset.qrKind;
    showOverlay('ticket-overlay');
    byId('ticket-done').focus();
    const kind = await showQr(ticket, qr);
    card.dataset.qrKind = kind;
    field('scan').textContent = H.t(kind === 'wechat' ? 'scan_wechat' : 'scan_link');
    await imageLoaded(qr);
    // Kiosks run chromium with --kiosk-printing: print() returns at once, without a dialog.
    window.print();
  }

  /** Show and print each ticket in turn, then count down back to the services. */
  async function presentTickets(tickets) {
    for (const ticket of tickets) await showTicket(ticket);
    startCountdown(byId('countdown'), RETURN_AFTER_SECONDS);
  }

  function startCountdown(countdown, seconds) {
    let left = seconds;
    clearInterval(countdownTimer);
    countdown.textContent = H.t('returning', { seconds: left });
    countdownTimer = setInterval(() => {
      left -= 1;
      if (left <= 0) backToServices();
      else countdown.textContent = H.t('returning', { seconds: left });
    }, 1000);
  }

  function backToServices() {
    clearInterval(countdownTimer);
    showOverlay(null);
    setBusy(false);
    document.dispatchEvent(new CustomEvent('hallq:kiosk-home'));
  }

  // A revoked or mistyped token shows the "not registered" screen at once, not at the first tap.
  async function checkToken() {
    try {
      const me = await H.api('GET', '/auth/me', null, token);
      if (me.kind === 'kiosk' && me.hall_ids.indexOf(hallId) >= 0) return;
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) return; // offline: try at the tap
    }
    tokenRefused();
  }

  window.hallqKiosk = {
    lastTicket: null,
    token: () => token,
    busy: () => busy,
    atHome: () => !busy && overlays.every((overlay) => overlay.hidden),
    setBusy: setBusy,
    showOverlay: showOverlay,
    showError: showError,
    presentTickets: presentTickets,
    tokenRefused: tokenRefused,
    showUnregistered: showUnregistered,
    backToServices: backToServices,
  };

  // --------------------------------------------------------------------- start

  byId('ticket-done').addEventListener('click', backToServices);
  byId('kiosk-error-close').addEventListener('click', backToServices);
  H.runClock(byId('clock'), null, timeZone);
  if (!token) showUnregistered();
  else checkToken();
  loadServices();
  H.stream('/api/v1/halls/' + hallId + '/events', {
    snapshot: (data) => applyProgress(data.progress),
    '*': refresh,
  }, (state) => H.showConnection(byId('live'), state));
  setInterval(loadProgress, REFRESH_MS);
})();
