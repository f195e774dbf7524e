/*
 * A citizen's ticket on their phone (often inside WeChat): state, people ahead and the
 * estimated wait, live from the ticket's event stream. When the ticket is called it shows
 * the counter in a banner, vibrates and beeps (where the browser allows); a transferred
 * ticket opens its successor; a finished one says thank you.
 *
 * "Almost your turn" uses the ticket's pre-call distance (body[data-pre-call-distance], which
 * ticket_reminders.js keeps current); each rendered ticket is announced as a `hallq:ticket`
 * event for the page's other scripts.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const body = document.body;
  const ticketId = Number(body.dataset.ticketId);
  const token = body.dataset.token;
  const timeZone = body.dataset.timeZone;
  const DEFAULT_PRE_CALL_DISTANCE = 3;
  const POLL_MS = 15000;
  const FOLLOW_AFTER_MS = 1500;

  const byId = (id) => document.getElementById(id);
  let previous = null;
  let streamOpen = false;
  let audio = null;
  let alertsOn = false;

  window.hallqTicket = null;

  // ------------------------------------------------------------------ alerts

  function audioContext() {
    if (audio) return audio;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    try {
      audio = new Context();
    } catch (error) {
      audio = null;
    }
    return audio;
  }

  function beep() {
    const context = audioContext();
    if (!context || context.state !== 'running') return;
    [0, 0.3].forEach((offset) => {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, context.currentTime + offset);
      gain.gain.exponentialRampToValueAtTime(0.4, context.currentTime + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, context.currentTime + offset + 0.22);
      oscillator.connect(gain);
      gain.connect(context.destination);
      oscillator.start(context.currentTime + offset);
      oscillator.stop(context.currentTime + offset + 0.25);
    });
  }

  function vibrate() {
    try {
      if (navigator.vibrate) navigator.vibrate([300, 150, 300, 150, 300]);
    } catch (error) { /* not allowed without a gesture in some browsers */ }
  }

  function alertCitizen() {
    vibrate();
    beep();
  }

  /** A tap lets the browser play sound and vibrate later. */
  function enableAlerts() {
    const context = audioContext();
    const button = byId('alerts');
    if (context && context.resume) context.resume().then(beep, () => {});
    vibrate();
    alertsOn = true;
    button.textContent = H.t('alerts_on');
    button.disabled = true;
  }

  // ------------------------------------------------------------------ render

  function showBanner(kind, text, detail) {
    const banner = byId('banner');
    banner.hidden = !text;
    banner.className = 'banner banner-' + kind;
    banner.textContent = text || '';
    if (detail) banner.append(H.h('small', null, detail));
  }

  function preCallDistance() {
    return Number(body.dataset.preCallDistance) || DEFAULT_PRE_CALL_DISTANCE;
  }

  function follow(successor) {
    const url = '/t/' + successor.id + '/?token=' + encodeURIComponent(successor.token);
    setTimeout(() => window.location.replace(url), FOLLOW_AFTER_MS);
  }

  function render(ticket) {
    window.hallqTicket = ticket;
    body.dataset.state = ticket.state;
    const section = byId('ticket');
    section.setAttribute('aria-busy', 'false');
    const label = H.t('state_' + ticket.state);
    const pill = byId('state');
    pill.textContent = label;
    pill.className = 'pill pill-' + ticket.state;
    byId('number').textContent = ticket.number;
    byId('service').textContent = ticket.service_name;
    byId('issued').textContent = H.formatTime(ticket.issued_at, timeZone);
    const waiting = ticket.state === 'waiting';
    byId('ahead-box').hidden = !waiting;
    byId('wait-box').hidden = !waiting;
    if (waiting) {
      byId('ahead').textContent = ticket.people_ahead == null ? '—' : ticket.people_ahead;
      byId('wait').textContent = H.formatWait(ticket.estimated_wait_seconds);
    }
    document.title = ticket.number + ' · ' + label;

    const counter = ticket.counter_number;
    switch (ticket.state) {
      case 'waiting':
        // The same rule as the pre-call message: people ahead within the distance.
        if (ticket.estimated_wait_seconds != null && ticket.people_ahead <= preCallDistance()) showBanner('info', H.t('almost'));
        else showBanner('info', '');
        break;
      case 'called':
        showBanner('called', H.t('go_to_counter', { number: counter }),
          ticket.recall_count ? H.t('called_again') : ticket.counter_name);
        break;
      case 'serving':
        showBanner('serving', H.t('serving_at', { number: counter }));
        break;
      case 'done':
        showBanner('done', H.t('done_thanks'));
        break;
      case 'no_show':
        showBanner('warn', H.t('no_show_help'));
        break;
      case 'expired':
        showBanner('warn', H.t('expired_help'));
        break;
      case 'cancelled':
        showBanner('warn', H.t('cancelled_help'));
        break;
      case 'transferred':
        if (ticket.transferred_to) {
          showBanner('info', H.t('transferred_to', { number: ticket.transferred_to.number }));
          follow(ticket.transferred_to);
        } else {
          showBanner('info', H.t('state_transferred'));
        }
        break;
      default:
        showBanner('info', '');
    }

    const calledNow = ticket.state === 'called' && previous && (
      previous.state !== 'called' || ticket.recall_count > previous.recall_count);
    if (calledNow) alertCitizen();
    const active = ['waiting', 'called', 'serving'].indexOf(ticket.state) >= 0;
    byId('alerts').hidden = !active || ticket.state === 'serving';
    byId('keep-open').hidden = !active;
    previous = ticket;
    document.dispatchEvent(new CustomEvent('hallq:ticket', { detail: ticket }));
  }

  // ------------------------------------------------------------------- data

  async function poll() {
    if (streamOpen) return;
    try {
      render(await H.api('GET', '/tickets/' + ticketId + '?token=' + encodeURIComponent(token)));
    } catch (error) {
      showBanner('warn', error.message);
    }
  }

  byId('alerts').addEventListener('click', enableAlerts);
  H.stream('/api/v1/tickets/' + ticketId + '/events?token=' + encodeURIComponent(token), {
    ticket: render,
  }, (state) => {
    streamOpen = state === 'open';
    H.showConnection(byId('live'), state);
  });
  // Some proxies buffer event streams: then the page still updates, more slowly.
  setInterval(poll, POLL_MS);
})();
