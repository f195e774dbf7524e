/*
 * Booking on a phone, one step per address (body[data-step]): hall by district → service and
 * its guide → day and slot, with the places left refreshed every few seconds → confirmation →
 * the appointment's page (me.js).
 *
 * Every step checks the profile first and sends a citizen who is not signed in, registered or
 * agreed to that step (account.js), with ?next= pointing back here.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const C = window.Citizen;
  const body = document.body;
  const step = body.dataset.step;
  const hallId = Number(body.dataset.hallId) || null;
  const serviceId = Number(body.dataset.serviceId) || null;
  const timeZone = body.dataset.timeZone;
  const SLOTS_REFRESH_MS = 5000;
  const DAYS_REFRESH_MS = 30000;
  const DAYS_ASKED = 15;
  const DAYS_SHOWN = 7;
  const NOTICE_KEY = 'hallq.book.notice';
  const KEY_PREFIX = 'hallq.book.key.';
  // Answers that mean "this slot cannot be had": back to the day's slots, counts refreshed.
  const SLOT_LOST = ['slot_full', 'slot_closed', 'slot_started', 'unknown_slot'];

  const byId = (id) => document.getElementById(id);
  const alertBox = byId('alert');
  const noticeBox = byId('notice');
  const fail = (error) => C.showMessage(alertBox, error.message);
  const locale = (document.documentElement.lang || '').indexOf('zh') === 0 ? 'zh-CN' : 'en-GB';

  function session(key, value) {
    try {
      if (value === undefined) return window.sessionStorage.getItem(key);
      if (value === null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, value);
    } catch (error) { /* private mode */ }
    return null;
  }

  function servicePath() {
    return '/book/' + hallId + '/' + serviceId + '/';
  }

  // -------------------------------------------------------------------- halls

  function showBlacklist(profile) {
    if (!profile.blacklisted_until) return;
    C.showMessage(alertBox, H.t('blacklisted_until', { date: H.formatDate(profile.blacklisted_until, timeZone) }));
  }

  async function halls() {
    const profile = await C.requireProfile({ registered: true, agreement: true });
    showBlacklist(profile);
    const list = byId('districts');
    try {
      const all = await H.api('GET', '/halls');
      const districts = new Map();
      all.forEach((hall) => {
        if (!districts.has(hall.organisation)) districts.set(hall.organisation, []);
        districts.get(hall.organisation).push(hall);
      });
      list.textContent = '';
      if (!all.length) list.append(H.h('p', { className: 'card empty' }, H.t('no_halls')));
      districts.forEach((members, district) => {
        list.append(H.h('section', { className: 'district' },
          H.h('h2', { className: 'section-title' }, district),
          H.h('ul', { className: 'choice-list' }, ...members.map((hall) => H.h('li', null,
            H.h('a', { className: 'card choice', href: '/book/' + hall.id + '/', dataset: { hallId: hall.id } },
              H.h('strong', null, hall.name),
              hall.address ? H.h('span', { className: 'muted' }, hall.address) : null))))));
      });
    } catch (error) {
      fail(error);
    }
    list.setAttribute('aria-busy', 'false');
  }

  // ----------------------------------------------------------------- services

  function serviceCard(service) {
    const guide = service.guide ? H.h('details', { className: 'guide' },
      H.h('summary', null, H.t('read_guide')),
      H.h('p', { className: 'guide-text' }, service.guide)) : null;
    const action = service.bookable
      ? H.h('a', { className: 'btn btn-primary', href: '/book/' + hallId + '/' + service.id + '/' }, H.t('book_this'))
      : H.h('p', { className: 'muted' }, H.t('bookable_only_on_site'));
    return H.h('li', { className: 'card service-choice', dataset: { serviceId: service.id } },
      H.h('div', { className: 'service-choice-head' },
        H.h('span', { className: 'letter', 'aria-hidden': 'true' }, service.prefix),
        H.h('h2', null, service.name)),
      guide, action);
  }

  async function services() {
    const profile = await C.requireProfile({ registered: true, agreement: true });
    showBlacklist(profile);
    const list = byId('services');
    try {
      const all = await H.api('GET', '/halls/' + hallId + '/services');
      const ordered = all.filter((s) => s.bookable).concat(all.filter((s) => !s.bookable));
      list.textContent = '';
      ordered.forEach((service) => list.append(serviceCard(service)));
      if (!all.some((s) => s.bookable)) C.showMessage(noticeBox, H.t('no_bookable_services'));
    } catch (error) {
      fail(error);
    }
    list.setAttribute('aria-busy', 'false');
  }

  // -------------------------------------------------------------------- slots

  const dayParts = {
    weekday: new Intl.DateTimeFormat(locale, { weekday: 'short', timeZone: 'UTC' }),
    date: new Intl.DateTimeFormat(locale, { month: 'numeric', day: 'numeric', timeZone: 'UTC' }),
  };

  function utcNoon(isoDate) {
    return new Date(isoDate + 'T12:00:00Z');
  }

  /** What a day's chip says under its date. */
  function dayStatus(day) {
    if (day.bookable) return day.remaining > 0 ? H.t('remaining', { count: day.remaining }) : H.t('full');
    if (day.reason === 'not_yet_open' || day.reason === 'too_far') return H.t('not_open');
    return H.t('closed');
  }

  /** Why a day cannot be booked; a day past the window says when it opens. */
  function dayMessage(day) {
    if (day.bookable) return day.remaining > 0 ? '' : H.t('no_slots_left');
    if (day.reason === 'too_far' && day.opens_at) {
      return H.t('opens_at_long', {
        date: C.formatDay(C.localDate(day.opens_at, timeZone)),
        time: H.formatTime(day.opens_at, timeZone),
      });
    }
    return day.message;
  }

  /** The days offered: the booking window, then days not yet open to fill a week. */
  function visibleDays(all) {
    const shown = [];
    all.forEach((day) => {
      if (day.reason === 'past' || day.reason === 'too_soon') return;
      if (day.reason === 'too_far' && shown.length >= DAYS_SHOWN) return;
      shown.push(day);
    });
    return shown;
  }

  async function slots() {
    const profile = await C.requireProfile({ registered: true, agreement: true });
    showBlacklist(profile);
    const strip = byId('days');
    const slotList = byId('slots');
    const message = byId('day-message');
    const live = byId('live');
    let days = [];
    let selected = new URLSearchParams(window.location.search).get('date');
    const slotButtons = new Map();

    const notice = session(NOTICE_KEY);
    if (notice) {
      session(NOTICE_KEY, null);
      C.showMessage(alertBox, notice);
    }

    function selectedDay() {
      return days.find((day) => day.date === selected) || null;
    }

    function renderDays() {
      const scrolled = strip.scrollLeft;
      strip.textContent = '';
      days.forEach((day) => {
        const noon = utcNoon(day.date);
        strip.append(H.h('button', {
          type: 'button',
          className: 'day' + (day.bookable ? '' : ' day-closed') + (day.bookable && !day.remaining ? ' day-full' : ''),
          'aria-pressed': day.date === selected ? 'true' : 'false',
          dataset: { date: day.date, bookable: day.bookable ? '1' : '0' },
          onclick: () => choose(day.date),
        },
        H.h('span', { className: 'day-weekday' }, dayParts.weekday.format(noon)),
        H.h('span', { className: 'day-date num' }, dayParts.date.format(noon)),
        H.h('span', { className: 'day-status' }, dayStatus(day))));
      });
      strip.scrollLeft = scrolled;
    }

    /** Scroll the strip sideways (never the page) so the chosen day is in view. */
    function showChosenDay() {
      const current = strip.querySelector('[aria-pressed="true"]');
      if (current) strip.scrollLeft = current.offsetLeft - (strip.clientWidth - current.offsetWidth) / 2;
    }

    function slotLabel(slot, bookable) {
      return slot.remaining > 0 || !bookable ? H.t('remaining', { count: slot.remaining }) : H.t('full');
    }

    function renderSlots() {
      const day = selectedDay();
      C.showMessage(message, day ? dayMessage(day) : '');
      const offered = day && (day.bookable || day.reason === 'not_yet_open') ? day.slots : [];
      const ids = offered.map((slot) => slot.id).join(',');
      if (ids !== slotList.dataset.ids) {
        slotList.textContent = '';
        slotButtons.clear();
        slotList.dataset.ids = ids;
        offered.forEach((slot) => {
          const count = H.h('span', { className: 'slot-remaining' });
          const button = H.h('button', {
            type: 'button',
            className: 'slot',
            dataset: { slotId: slot.id },
            onclick: () => C.go(servicePath() + 'confirm/?date=' + day.date + '&slot=' + slot.id),
          }, H.h('span', { className: 'slot-time num' }, C.formatSlot(slot, timeZone)), count);
          slotButtons.set(slot.id, { button: button, count: count });
          slotList.append(button);
        });
      }
      offered.forEach((slot) => {
        const entry = slotButtons.get(slot.id);
        entry.count.textContent = slotLabel(slot, day.bookable);
        entry.button.disabled = !day.bookable || slot.remaining <= 0;
        entry.button.classList.toggle('slot-full', day.bookable && slot.remaining <= 0);
      });
    }

    function choose(date) {
      selected = date;
      window.history.replaceState(null, '', servicePath() + '?date=' + date);
      C.syncLanguageSwitch();
      renderDays();
      // The buttons were redrawn: keep the keyboard where the citizen was.
      strip.querySelector('[aria-pressed="true"]').focus({ preventScroll: true });
      renderSlots();
      refreshSlots();
    }

    function firstChoice() {
      const wanted = days.find((day) => day.date === selected);
      if (wanted) return wanted.date;
      const open = days.find((day) => day.bookable && day.remaining > 0)
        || days.find((day) => day.bookable) || days[0];
      return open ? open.date : null;
    }

    function showLive(ok) {
      H.showConnection(live, ok ? 'open' : 'connecting');
    }

    async function refreshDays() {
      const all = await H.api(
        'GET', '/halls/' + hallId + '/availability?days=' + DAYS_ASKED + '&service_id=' + serviceId);
      days = visibleDays(all.filter((day) => day.service_id === serviceId));
      if (!days.length) {
        // Say why: the slots of today answer with the reason (e.g. "cannot be booked").
        const today = C.localDate(H.now(), timeZone);
        await H.api('GET', '/halls/' + hallId + '/services/' + serviceId + '/slots?date=' + today);
        throw new H.ApiError(409, 'no_days', H.t('no_days'), null);
      }
      const first = !strip.childElementCount;
      if (!days.some((day) => day.date === selected)) selected = firstChoice();
      renderDays();
      renderSlots();
      if (first) showChosenDay();
    }

    async function refreshSlots() {
      const day = selectedDay();
      if (!day || document.hidden) return;
      try {
        const fresh = await H.api('GET', '/halls/' + hallId + '/services/' + serviceId + '/slots?date=' + day.date);
        const index = days.findIndex((d) => d.date === fresh.date);
        if (index >= 0) {
          const changed = days[index].remaining !== fresh.remaining || days[index].bookable !== fresh.bookable;
          days[index] = fresh;
          if (changed) renderDays();
        }
        if (fresh.date === selected) renderSlots();
        showLive(true);
      } catch (error) {
        showLive(false);
      }
    }

    try {
      await refreshDays();
      if (selected) window.history.replaceState(null, '', servicePath() + '?date=' + selected);
      C.syncLanguageSwitch();
      showLive(true);
    } catch (error) {
      fail(error);
      showLive(false);
    }
    strip.setAttribute('aria-busy', 'false');
    setInterval(refreshSlots, SLOTS_REFRESH_MS);
    setInterval(() => {
      if (!document.hidden) refreshDays().catch(() => showLive(false));
    }, DAYS_REFRESH_MS);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) refreshSlots();
    });
  }

  // ------------------------------------------------------------------ confirm

  /** One key per confirmation of a slot: a retry after a lost answer books nothing twice. */
  function idempotencyKey(slotId) {
    const stored = session(KEY_PREFIX + slotId);
    if (stored) return stored;
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    const key = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    session(KEY_PREFIX + slotId, key);
    return key;
  }

  async function confirm() {
    const params = new URLSearchParams(window.location.search);
    const date = params.get('date') || '';
    const slotId = Number(params.get('slot'));
    const back = servicePath() + (date ? '?date=' + date : '');
    byId('change').href = back;
    const button = byId('confirm');
    const profile = await C.requireProfile({ registered: true, agreement: true });
    showBlacklist(profile);
    byId('person-name').textContent = profile.name;
    byId('person-id').textContent = profile.id_number_masked || '—';
    byId('person-mobile').textContent = profile.mobile_masked;
    byId('confirm-date').textContent = date ? C.formatDay(date) : '—';

    try {
      const day = await H.api('GET', '/halls/' + hallId + '/services/' + serviceId + '/slots?date=' + date);
      const slot = day.slots.find((s) => s.id === slotId);
      if (!slot || !slot.is_open) {
        C.showMessage(alertBox, day.message || H.t('slot_gone'));
        return;
      }
      byId('confirm-time').textContent = C.formatSlot(slot, timeZone);
      byId('confirm-remaining').textContent = slot.remaining > 0 ? H.t('remaining', { count: slot.remaining }) : H.t('full');
      if (!day.bookable) {
        C.showMessage(alertBox, day.message);
        return;
      }
      button.disabled = slot.remaining <= 0;
    } catch (error) {
      fail(error);
      return;
    }

    button.addEventListener('click', async () => {
      C.showMessage(alertBox, '');
      const key = idempotencyKey(slotId);
      const channel = /MicroMessenger/i.test(navigator.userAgent) ? 'wechat' : 'web';
      try {
        const appointment = await C.busy(button, H.t('booking'), () => C.api(
          'POST', '/appointments', { slot_id: slotId, channel: channel }, { 'Idempotency-Key': key }));
        session(KEY_PREFIX + slotId, null);
        window.location.replace('/me/appointments/' + appointment.id + '/?booked=1');
      } catch (error) {
        // Without an answer (offline, server error, still processing) the same key is kept so
        // that pressing again cannot book twice; any other answer is final.
        const unanswered = error.status === 0 || error.status >= 500 || error.code === 'in_progress';
        if (!unanswered) session(KEY_PREFIX + slotId, null);
        if (SLOT_LOST.indexOf(error.code) >= 0) {
          session(NOTICE_KEY, error.message);
          window.location.replace(back);
          return;
        }
        fail(error);
      }
    });
  }

  // -------------------------------------------------------------------- start

  const steps = {
    halls: halls,
    services: services,
    slots: slots,
    confirm: confirm,
  };
  Promise.resolve(steps[step]()).catch(fail);
})();
