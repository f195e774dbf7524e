/*
 * Who the citizen is, one step per address (body[data-step]): sign-in with a one-time SMS code
 * (the token is kept in localStorage by citizen.js), real-name registration, and the booking
 * notice and agreement. Each step ends by going on to ?next=.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const C = window.Citizen;
  const RESEND_SECONDS = 60;

  const byId = (id) => document.getElementById(id);
  const alertBox = byId('alert');
  const noticeBox = byId('notice');
  const fail = (error) => C.showMessage(alertBox, error.message);

  // ------------------------------------------------------------------ sign-in

  function signIn() {
    const form = byId('sign-in-form');
    const mobile = byId('mobile');
    const code = byId('code');
    const send = byId('send-code');
    let countdown = null;

    function waitToResend(seconds) {
      let left = seconds;
      clearInterval(countdown);
      send.disabled = true;
      send.textContent = H.t('resend_in', { seconds: left });
      countdown = setInterval(() => {
        left -= 1;
        if (left > 0) {
          send.textContent = H.t('resend_in', { seconds: left });
          return;
        }
        clearInterval(countdown);
        send.disabled = false;
        send.textContent = H.t('send_code');
      }, 1000);
    }

    send.addEventListener('click', async () => {
      C.showMessage(alertBox, '');
      C.showMessage(noticeBox, '');
      try {
        await H.api('POST', '/citizen/sign-in/code', { mobile: mobile.value.trim() });
        C.showMessage(noticeBox, H.t('code_sent', { mobile: mobile.value.trim() }));
        waitToResend(RESEND_SECONDS);
        code.focus();
      } catch (error) {
        fail(error);
      }
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      C.showMessage(alertBox, '');
      const submit = byId('sign-in-submit');
      try {
        const answer = await C.busy(submit, H.t('signing_in'), () => H.api(
          'POST', '/citizen/sign-in', { mobile: mobile.value.trim(), code: code.value.trim() }));
        C.setToken(answer.token);
        const next = C.nextPath();
        if (!answer.registered) window.location.replace(C.withNext('/book/register/', next));
        else if (answer.agreement_version_required > 0) window.location.replace(C.withNext('/book/agreement/', next));
        else window.location.replace(next);
      } catch (error) {
        fail(error);
      }
    });
    mobile.focus();
  }

  // ------------------------------------------------------------- registration

  async function register() {
    const profile = await C.requireProfile({});
    if (profile.registered) {
      window.location.replace(C.nextPath());
      return;
    }
    byId('mobile-masked').textContent = profile.mobile_masked;
    const form = byId('register-form');
    form.hidden = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      C.showMessage(alertBox, '');
      try {
        const saved = await C.busy(byId('register-submit'), H.t('saving'), () => C.api(
          'PUT', '/citizen/profile', { name: byId('name').value.trim(), id_number: byId('id-number').value.trim() }));
        const next = C.nextPath();
        if (saved.agreement_version < saved.current_agreement_version) {
          window.location.replace(C.withNext('/book/agreement/', next));
        } else {
          window.location.replace(next);
        }
      } catch (error) {
        fail(error);
      }
    });
    byId('name').focus();
  }

  // ---------------------------------------------------------------- agreement

  async function agreement() {
    const profile = await C.requireProfile({ registered: true });
    let current;
    try {
      current = await H.api('GET', '/agreement');
    } catch (error) {
      if (error.code === 'no_agreement') window.location.replace(C.nextPath());
      else fail(error);
      return;
    }
    byId('agreement-name').textContent = current.title;
    byId('agreement-text').textContent = current.text;
    byId('agreement-body').setAttribute('aria-busy', 'false');
    const read = byId('agreement-read');
    const accept = byId('agreement-accept');
    const accepted = profile.agreement_version >= current.version;
    read.checked = accepted;
    read.disabled = accepted;
    accept.disabled = !accepted;
    read.addEventListener('change', () => { accept.disabled = !read.checked; });
    byId('agreement-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      C.showMessage(alertBox, '');
      try {
        if (!accepted) {
          await C.busy(accept, H.t('saving'), () => C.api('POST', '/citizen/agreement', { version: current.version }));
        }
        window.location.replace(C.nextPath());
      } catch (error) {
        fail(error);
      }
    });
  }

  // -------------------------------------------------------------------- start

  const steps = { 'sign-in': signIn, register: register, agreement: agreement };
  Promise.resolve(steps[document.body.dataset.step]()).catch(fail);
})();
