/*
 * "My ticket" (the official account's menu): today's tickets of the signed-in citizen. With
 * exactly one ticket still in the queue, the citizen wants that ticket's live page, so the
 * page goes straight there; otherwise it lists them, newest first, or says there is none.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const C = window.Citizen;
  const ACTIVE = ['waiting', 'called', 'serving'];
  const byId = (id) => document.getElementById(id);

  function ticketCard(ticket) {
    const state = H.h('span', { className: 'pill pill-' + ticket.state }, H.t('state_' + ticket.state));
    return H.h('article', { className: 'card appointment', dataset: { ticketId: ticket.id, state: ticket.state } },
      H.h('div', { className: 'appointment-head' }, H.h('h2', { className: 'num' }, ticket.number), state),
      H.h('p', { className: 'muted' }, H.t('ticket_of_service', { service: ticket.service_name, hall: ticket.hall_name })),
      H.h('div', { className: 'button-row' },
        H.h('a', { className: 'btn' + (ACTIVE.includes(ticket.state) ? ' btn-primary' : ''), href: ticket.url },
          H.t('follow_ticket'))));
  }

  async function show() {
    const list = byId('tickets');
    const tickets = await C.api('GET', '/citizen/tickets');
    const active = tickets.filter((ticket) => ACTIVE.includes(ticket.state));
    if (active.length === 1) {
      window.location.replace(active[0].url);
      return;
    }
    list.textContent = '';
    tickets.forEach((ticket) => list.append(ticketCard(ticket)));
    byId('no-ticket').hidden = active.length > 0;
    list.setAttribute('aria-busy', 'false');
  }

  show().catch((error) => {
    byId('tickets').setAttribute('aria-busy', 'false');
    C.showMessage(byId('alert'), error.message);
  });
})();
