/*
 * citizen.js — what the citizen's pages (booking, my appointments) share. Plain ES2017.
 *
 *   Citizen.token() / setToken(t) / forgetToken()   the SMS sign-in token in localStorage
 *   Citizen.api(method, path, body, headers)         Hallq.api with the token; a 401 goes to sign-in
 *   Citizen.requireProfile(needs)                    the profile, or off to the step that is missing
 *   Citizen.go(path) / here() / nextPath()           moving between steps, ?next= kept safe
 *   Citizen.bookingCode(code)                        "1234 5678 90"
 *   Citizen.formatDay(isoDate) / formatSlot(a, tz) / localDate(instant, tz)   dates and times
 *   Citizen.hallZones()                              hall id -> time zone, from GET /halls
 *   Citizen.cancelControl(appointment, onCancelled)  a cancel button that asks first
 */
(function (global) {
  'use strict';

  const H = global.Hallq;
  const TOKEN_KEY = 'hallq.citizen.token';
  const SIGN_IN = '/book/sign-in/';
  let memoryToken = '';

  // ------------------------------------------------------------------- token

  function token() {
    try {
      return global.localStorage.getItem(TOKEN_KEY) || memoryToken;
    } catch (error) {
      return memoryToken;
    }
  }

  function setToken(value) {
    memoryToken = value;
    try {
      global.localStorage.setItem(TOKEN_KEY, value);
    } catch (error) { /* private mode: kept for this page only */ }
  }

  function forgetToken() {
    memoryToken = '';
    try {
      global.localStorage.removeItem(TOKEN_KEY);
    } catch (error) { /* nothing stored */ }
  }

  // --------------------------------------------------------------- navigation

  function here() {
    return global.location.pathname + global.location.search;
  }

  /** The ?next= of this address when it is a page of this site, else the booking start
   * (never another site: "//x", "/\\x" and the like resolve elsewhere). */
  function nextPath() {
    const value = new URLSearchParams(global.location.search).get('next') || '';
    let target;
    try {
      target = new URL(value, global.location.origin);
    } catch (error) {
      return '/book/';
    }
    if (!value || value[0] !== '/' || target.origin !== global.location.origin) return '/book/';
    return target.pathname + target.search;
  }

  function withNext(path, next) {
    return path + '?next=' + encodeURIComponent(next);
  }

  function go(path) {
    global.location.assign(path);
  }

  function goSignIn() {
    forgetToken();
    global.location.replace(withNext(SIGN_IN, here()));
  }

  /** After the address changed in place (history.replaceState), the language switch must
   * come back to the new address. */
  function syncLanguageSwitch() {
    const input = document.querySelector('.lang-switch input[name="next"]');
    if (input) input.value = here();
  }

  // ---------------------------------------------------------------------- api

  /** Never resolves: the page is being left. */
  function leaving() {
    return new Promise(() => {});
  }

  async function api(method, path, body, headers) {
    const current = token();
    if (!current) {
      goSignIn();
      return leaving();
    }
    try {
      return await H.api(method, path, body, current, headers);
    } catch (error) {
      if (error.status === 401) {
        goSignIn();
        return leaving();
      }
      throw error;
    }
  }

  /**
   * The signed-in citizen's profile. `needs.registered` sends an unregistered citizen to the
   * registration step, `needs.agreement` one who has not accepted the current agreement to it;
   * both come back here afterwards.
   */
  async function requireProfile(needs) {
    const profile = await api('GET', '/citizen/profile');
    const wanted = needs || {};
    if (wanted.registered && !profile.registered) {
      global.location.replace(withNext('/book/register/', here()));
      return leaving();
    }
    if (wanted.agreement && profile.agreement_version < profile.current_agreement_version) {
      global.location.replace(withNext('/book/agreement/', here()));
      return leaving();
    }
    return profile;
  }

  // --------------------------------------------------------------- formatting

  /** Booking codes are read aloud and typed at the kiosk in groups: 4-4-2. */
  function bookingCode(code) {
    return String(code).replace(/^(\d{4})(\d{4})(\d+)$/, '$1 $2 $3');
  }

  /** "11月28日 星期六" for a calendar date ("2026-11-28"), whatever the phone's zone. */
  function formatDay(isoDate) {
    return H.formatDate(new Date(isoDate + 'T12:00:00Z'), 'UTC');
  }

  /** "09:00–09:30" in the hall's zone. */
  function formatSlot(item, timeZone) {
    return H.t('time_range', {
      start: H.formatTime(item.starts_at, timeZone),
      end: H.formatTime(item.ends_at, timeZone),
    });
  }

  /** The calendar date ("2026-11-27") of an instant in the hall's zone. */
  function localDate(value, timeZone) {
    return new Intl.DateTimeFormat('en-CA', {
      timeZone: timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
    }).format(new Date(value));
  }

  let zones = null;

  /** Each hall's time zone (appointments name their hall, not its zone). */
  async function hallZones() {
    if (!zones) {
      zones = H.api('GET', '/halls').then((halls) => {
        const map = {};
        halls.forEach((hall) => { map[hall.id] = hall.time_zone; });
        return map;
      }, () => ({}));
    }
    return zones;
  }

  function stateLabel(appointment) {
    const key = 'appointment_state_' + appointment.state;
    const label = H.t(key);
    return label === key ? appointment.state_label : label;
  }

  // --------------------------------------------------------------- messages

  /** Show `text` in `element` (hidden when empty). A new alert is scrolled into view; other
   * messages are updated in place, so a refresh never moves the page under the reader. */
  function showMessage(element, text) {
    if (!element) return;
    const changed = element.textContent !== (text || '') || element.hidden;
    element.textContent = text || '';
    element.hidden = !text;
    if (text && changed && element.getAttribute('role') === 'alert' && element.scrollIntoView) {
      element.scrollIntoView({ block: 'nearest' });
    }
  }

  /** A button that shows its busy text while `work` runs and cannot be pressed twice. */
  async function busy(button, text, work) {
    const label = button.textContent;
    button.disabled = true;
    button.textContent = text;
    try {
      return await work();
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  // ------------------------------------------------------------------ cancel

  /**
   * "Cancel appointment" that first asks, inline (WeChat's browser handles dialogs poorly).
   * `onCancelled(appointment)` gets the cancelled appointment; errors go to `alertElement`.
   */
  function cancelControl(appointment, onCancelled, alertElement) {
    const wrapper = H.h('div', { className: 'cancel-control' });
    const ask = H.h('button', { type: 'button', className: 'btn btn-danger btn-block', dataset: { action: 'cancel' } },
      H.t('cancel_appointment'));
    const confirmRow = H.h('div', { className: 'cancel-confirm', role: 'group', hidden: true });
    const yes = H.h('button', { type: 'button', className: 'btn btn-danger', dataset: { action: 'cancel-confirm' } },
      H.t('cancel_confirm'));
    const no = H.h('button', { type: 'button', className: 'btn btn-quiet', dataset: { action: 'cancel-keep' } },
      H.t('keep_appointment'));
    confirmRow.append(
      H.h('p', { className: 'cancel-question' }, H.t('cancel_question')),
      appointment.late_cancellation ? H.h('p', { className: 'hint' }, H.t('late_cancel_warning')) : null,
      H.h('div', { className: 'button-row' }, yes, no),
    );
    ask.addEventListener('click', () => {
      ask.hidden = true;
      confirmRow.hidden = false;
      no.focus();
    });
    no.addEventListener('click', () => {
      confirmRow.hidden = true;
      ask.hidden = false;
      ask.focus();
    });
    yes.addEventListener('click', async () => {
      no.disabled = true;
      try {
        const cancelled = await busy(yes, H.t('cancelling'),
          () => api('POST', '/appointments/' + appointment.id + '/cancel'));
        onCancelled(cancelled);
      } catch (error) {
        showMessage(alertElement, error.message);
      } finally {
        no.disabled = false;
      }
    });
    wrapper.append(ask, confirmRow);
    return wrapper;
  }

  global.Citizen = {
    token: token,
    setToken: setToken,
    forgetToken: forgetToken,
    here: here,
    nextPath: nextPath,
    withNext: withNext,
    go: go,
    syncLanguageSwitch: syncLanguageSwitch,
    api: api,
    requireProfile: requireProfile,
    bookingCode: bookingCode,
    formatDay: formatDay,
    formatSlot: formatSlot,
    localDate: localDate,
    hallZones: hallZones,
    stateLabel: stateLabel,
    showMessage: showMessage,
    busy: busy,
    cancelControl: cancelControl,
  };
})(window);
