/*
 * The citizen's own pages: "my appointments" (each with its booking code, state, ticket link
 * and a cancel button that asks first; the profile, masked; sign-out) and one appointment with
 * its booking code and QR code — also the page a new booking lands on.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const C = window.Citizen;
  const body = document.body;
  const defaultZone = body.dataset.timeZone;
  const byId = (id) => document.getElementById(id);
  const alertBox = byId('alert');
  const noticeBox = byId('notice');
  const fail = (error) => C.showMessage(alertBox, error.message);

  function ticketLink(appointment, className) {
    if (!appointment.ticket) return null;
    return H.h('a', { className: className, href: appointment.ticket.url, dataset: { ticketId: appointment.ticket.id } },
      H.t('ticket_number', { number: appointment.ticket.number }));
  }

  function pill(element, appointment) {
    element.textContent = C.stateLabel(appointment);
    element.className = 'pill pill-' + appointment.state;
  }

  // ------------------------------------------------------------ the list page

  function appointmentCard(appointment, zone) {
    const state = H.h('span');
    pill(state, appointment);
    const card = H.h('article', {
      className: 'card appointment',
      dataset: { appointmentId: appointment.id, state: appointment.state },
    },
    H.h('div', { className: 'appointment-head' }, H.h('h2', null, appointment.service_name), state),
    H.h('p', { className: 'muted' }, appointment.hall_name),
    H.h('p', { className: 'appointment-when' },
      C.formatDay(appointment.date), ' ', H.h('span', { className: 'num' }, C.formatSlot(appointment, zone))),
    H.h('p', { className: 'appointment-code' }, H.t('booking_code'), ' ',
      H.h('strong', { className: 'num', dataset: { field: 'booking-code' } }, C.bookingCode(appointment.booking_code))));
    const actions = H.h('div', { className: 'button-row' },
      H.h('a', { className: 'btn', href: '/me/appointments/' + appointment.id + '/' }, H.t('details')),
      ticketLink(appointment, 'btn btn-primary'));
    card.append(actions);
    if (appointment.cancellable) {
      card.append(C.cancelControl(appointment, (cancelled) => {
        card.replaceWith(appointmentCard(cancelled, zone));
        C.showMessage(noticeBox, H.t('cancelled_done'));
      }, alertBox));
    }
    return card;
  }

  function showProfile(profile) {
    byId('profile-name').textContent = profile.name || '—';
    byId('profile-id').textContent = profile.id_number_masked || '—';
    byId('profile-mobile').textContent = profile.mobile_masked;
    if (profile.blacklisted_until) {
      C.showMessage(byId('profile-blacklisted'),
        H.t('blacklisted_until', { date: H.formatDate(profile.blacklisted_until, defaultZone) }));
    }
    byId('profile').hidden = false;
  }

  async function signOut() {
    try {
      await H.api('POST', '/citizen/sign-out', null, C.token());
    } catch (error) { /* the token is forgotten here whatever the server says */ }
    C.forgetToken();
    window.location.assign('/');
  }

  async function listPage() {
    const list = byId('appointments');
    byId('sign-out').addEventListener('click', signOut);
    const [profile, appointments, zones] = await Promise.all([
      C.api('GET', '/citizen/profile'), C.api('GET', '/appointments'), C.hallZones(),
    ]);
    showProfile(profile);
    list.textContent = '';
    if (!appointments.length) list.append(H.h('p', { className: 'card empty' }, H.t('no_appointments')));
    appointments.forEach((appointment) => {
      list.append(appointmentCard(appointment, zones[appointment.hall_id] || defaultZone));
    });
    list.setAttribute('aria-busy', 'false');
  }

  // ------------------------------------------------------ one appointment page

  function renderAppointment(appointment, zone) {
    const booked = appointment.state === 'booked';
    pill(byId('state'), appointment);
    byId('booking-code').textContent = C.bookingCode(appointment.booking_code);
    byId('booking-code').dataset.code = appointment.booking_code;
    const qr = byId('booking-qr');
    if (booked) qr.src = '/qr/booking/' + appointment.booking_code + '.svg';
    qr.hidden = !booked;
    byId('how-to-check-in').hidden = !booked;
    byId('service').textContent = appointment.service_name;
    byId('hall').textContent = appointment.hall_name;
    byId('hall-address').textContent = appointment.hall_address;
    byId('date').textContent = C.formatDay(appointment.date);
    byId('time').textContent = C.formatSlot(appointment, zone);
    const hints = [];
    if (booked) {
      hints.push(H.t('check_in_window', {
        opens: H.formatTime(appointment.check_in_opens_at, zone),
        closes: H.formatTime(appointment.check_in_closes_at, zone),
      }));
    }
    if (appointment.cancellable && !appointment.late_cancellation) {
      hints.push(H.t('cancel_until', {
        time: C.formatDay(C.localDate(appointment.cancel_deadline, zone)) + ' '
          + H.formatTime(appointment.cancel_deadline, zone),
      }));
    }
    C.showMessage(byId('check-in-window'), hints.join(' '));
    const link = byId('ticket-link');
    link.hidden = !appointment.ticket;
    if (appointment.ticket) {
      link.href = appointment.ticket.url;
      link.textContent = H.t('ticket_number', { number: appointment.ticket.number });
    }
    const cancel = byId('cancel');
    cancel.textContent = '';
    if (appointment.cancellable) {
      cancel.append(C.cancelControl(appointment, (cancelled) => {
        byId('booked').hidden = true;
        renderAppointment(cancelled, zone);
        C.showMessage(noticeBox, H.t('cancelled_done'));
      }, alertBox));
    }
    document.title = C.bookingCode(appointment.booking_code) + ' · ' + appointment.service_name;
    byId('appointment').setAttribute('aria-busy', 'false');
  }

  async function appointmentPage() {
    const id = Number(body.dataset.appointmentId);
    const [appointment, zones] = await Promise.all([
      C.api('GET', '/appointments/' + id), C.hallZones(),
    ]);
    byId('booked').hidden = !(new URLSearchParams(window.location.search).get('booked')
      && appointment.state === 'booked');
    renderAppointment(appointment, zones[appointment.hall_id] || defaultZone);
  }

  const page = body.dataset.page === 'appointment' ? appointmentPage : listPage;
  page().catch(fail);
})();
