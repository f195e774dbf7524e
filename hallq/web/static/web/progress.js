/*
 * Queue progress of every hall: waiting, open counters, idle or busy. Polled rather than
 * streamed: one event stream per hall would not scale to a city's worth of halls.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const POLL_MS = 15000;
  const cards = Array.prototype.slice.call(document.querySelectorAll('[data-hall-id]'));

  function field(card, name) {
    return card.querySelector('[data-field="' + name + '"]');
  }

  function busyPill(pill, progress) {
    pill.hidden = false;
    pill.textContent = progress.idle ? H.t('idle') : H.t('busy', { count: progress.waiting });
    pill.className = 'pill ' + (progress.idle ? 'pill-idle' : 'pill-busy');
  }

  async function refreshCard(card) {
    const progress = await H.api('GET', '/halls/' + card.dataset.hallId + '/progress');
    field(card, 'waiting').textContent = progress.waiting;
    field(card, 'open').textContent = progress.open_counters;
    busyPill(field(card, 'busy'), progress);
  }

  async function refresh() {
    if (document.hidden) return;
    const results = await Promise.all(cards.map((card) => refreshCard(card).then(() => true, () => false)));
    if (results.some(Boolean) && cards.length) {
      document.getElementById('updated').textContent = H.t('updated_at', {
        time: H.formatTime(new Date(H.now()), cards[0].dataset.timeZone),
      });
    }
  }

  refresh();
  setInterval(refresh, POLL_MS);
  document.addEventListener('visibilitychange', refresh);
})();
