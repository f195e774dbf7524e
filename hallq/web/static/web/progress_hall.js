/*
 * One hall's queue progress per service — now serving, waiting, open counters and the wait a
 * new ticket faces — live from the hall's event stream.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const hallId = Number(document.body.dataset.hallId);
  const REFRESH_MS = 30000;
  const byId = (id) => document.getElementById(id);
  const template = byId('service-template');

  function busyPill(pill, row) {
    pill.textContent = row.idle ? H.t('idle') : H.t('busy', { count: row.waiting });
    pill.className = 'pill ' + (row.idle ? 'pill-idle' : 'pill-busy');
  }

  function serviceCard(row) {
    const card = template.content.firstElementChild.cloneNode(true);
    const field = (name) => card.querySelector('[data-field="' + name + '"]');
    card.dataset.serviceId = row.service_id;
    field('prefix').textContent = row.prefix;
    field('name').textContent = row.name;
    busyPill(field('busy'), row);
    field('serving').textContent = row.now_serving.length ? row.now_serving.join(' ') : '—';
    field('waiting').textContent = row.waiting;
    field('open').textContent = row.open_counters;
    field('wait').textContent = H.formatWait(row.estimated_wait_seconds);
    return card;
  }

  function render(progress) {
    byId('hall-waiting').textContent = progress.waiting;
    byId('hall-open').textContent = progress.open_counters;
    busyPill(byId('hall-busy'), progress);
    const list = byId('services');
    list.textContent = '';
    progress.services.forEach((row) => list.append(serviceCard(row)));
    list.setAttribute('aria-busy', 'false');
  }

  async function refresh() {
    try {
      render(await H.api('GET', '/halls/' + hallId + '/progress'));
    } catch (error) { /* the next event or the periodic refresh tries again */ }
  }

  H.stream('/api/v1/halls/' + hallId + '/events', {
    snapshot: (data) => render(data.progress),
    '*': H.debounce(refresh, 300),
  }, (state) => H.showConnection(byId('live'), state));
  setInterval(refresh, REFRESH_MS);
})();
