/*
 * Appointment check-in at the kiosk (§3.7): the citizen types the 18-character ID number or
 * the 10-digit booking code on the on-screen keypad, or holds the booking QR code to the
 * scanner — a USB scanner types the code and Enter into the focused input, and a scan on the
 * services screen opens this screen by itself. The appointment ticket(s) are shown and printed
 * like a walk-in ticket (kiosk.js); a refusal is shown large, then the kiosk goes back to the
 * start.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const kiosk = window.hallqKiosk;
  const hallId = Number(document.body.dataset.hallId);
  const ERROR_RETURN_SECONDS = 8;
  const IDLE_SECONDS = 60;
  const BOOKING_CODE = /^\d{10}$/;
  const ID_CHARACTER = /^[0-9xX]$/;

  const byId = (id) => document.getElementById(id);
  const screen = byId('check-in');
  const form = byId('check-in-form');
  const input = byId('check-in-input');
  const submit = byId('check-in-submit');
  let idleTimer = null;

  function clean(value) {
    return value.toUpperCase().replace(/[^0-9X]/g, '').slice(0, 18);
  }

  // An ID number is personal data on a public screen: it is wiped whenever the screen closes.
  function wipe() {
    input.value = '';
    submit.disabled = true;
  }

  function restartIdle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(close, IDLE_SECONDS * 1000);
  }

  function changed() {
    const value = clean(input.value);
    if (value !== input.value) input.value = value;
    submit.disabled = !value;
    restartIdle();
  }

  function open(firstCharacter) {
    if (!kiosk.token()) {
      kiosk.showUnregistered();
      return;
    }
    wipe();
    if (firstCharacter) input.value = clean(firstCharacter);
    kiosk.showOverlay('check-in');
    changed();
    input.focus();
  }

  function close() {
    clearTimeout(idleTimer);
    wipe();
    if (!screen.hidden) kiosk.backToServices();
  }

  function press(key) {
    if (key === 'delete') input.value = input.value.slice(0, -1);
    else input.value += key;
    changed();
    input.focus();
  }

  async function checkIn(event) {
    event.preventDefault();
    const value = clean(input.value);
    if (!value || kiosk.busy()) return;
    clearTimeout(idleTimer);
    wipe();
    const request = BOOKING_CODE.test(value) ? { booking_code: value } : { id_number: value };
    kiosk.setBusy(true);
    kiosk.showOverlay('checking-in');
    try {
      const answer = await H.api('POST', '/halls/' + hallId + '/check-in', request, kiosk.token());
      await kiosk.presentTickets(answer.tickets);
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        kiosk.setBusy(false);
        kiosk.tokenRefused();
        return;
      }
      kiosk.showError(error.message, ERROR_RETURN_SECONDS);
    }
  }

  // A scanner "types" into whatever has focus: on the services screen the first character
  // opens this screen, and while it is open stray focus is brought back to the input.
  function onKey(event) {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    if (kiosk.atHome()) {
      if (ID_CHARACTER.test(event.key)) {
        event.preventDefault();
        open(event.key);
      }
      return;
    }
    if (screen.hidden || document.activeElement === input) return;
    if (ID_CHARACTER.test(event.key)) {
      event.preventDefault();
      press(event.key.toUpperCase());
    } else if (event.key === 'Backspace') {
      event.preventDefault();
      press('delete');
    } else if (event.key === 'Enter') {
      event.preventDefault();
      form.requestSubmit();
    }
  }

  byId('check-in-open').addEventListener('click', () => open(''));
  byId('check-in-back').addEventListener('click', close);
  byId('check-in-clear').addEventListener('click', () => {
    wipe();
    changed();
    input.focus();
  });
  byId('keypad').addEventListener('pointerdown', (event) => {
    // Keep the focus (and so the scanner's typing) in the input.
    if (event.target.closest('[data-key]')) event.preventDefault();
  });
  byId('keypad').addEventListener('click', (event) => {
    const key = event.target.closest('[data-key]');
    if (key) press(key.dataset.key);
  });
  input.addEventListener('input', changed);
  form.addEventListener('submit', checkIn);
  document.addEventListener('keydown', onKey);
  document.addEventListener('hallq:kiosk-home', () => {
    clearTimeout(idleTimer);
    wipe();
  });
})();
