/*
 * Who the citizen is, one step per address (body[data-step]): sign-in with a one-time SMS code
 * (the token is kept in localStorage by citizen.js), real-name registration, and the booking
 * notice and agreement. Each step ends by going on to ?next=.
 *
 * Sign-in with WeChat goes through the official account's OAuth, which comes back to the
 * sign-in page with #wechat_proof=…. A WeChat account not yet bound to anyone signs in by SMS
 * once; that sign-in binds it (POST /citizen/wechat), so the next one needs no code.
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
    let wechatProof = ''; // a WeChat account not yet bound: the SMS sign-in binds it

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
        if (wechatProof) await bindWechat(answer.token, wechatProof);
        carryOn(answer);
      } catch (error) {
        fail(error);
      }
    });

    // ------------------------------------------------------------ with WeChat

    async function signInWithWechat(proof) {
      C.showMessage(noticeBox, H.t('wechat_signing_in'));
      try {
        const answer = await H.api('POST', '/citizen/sign-in/wechat', { proof: proof });
        C.setToken(answer.token);
        carryOn(answer);
      } catch (error) {
        C.showMessage(noticeBox, '');
        if (error.code !== 'wechat_not_bound') {
          fail(error);
          return;
        }
        wechatProof = proof;
        const offer = byId('wechat-sign-in-box');
        if (offer) offer.hidden = true;
        C.showMessage(noticeBox, H.t('wechat_not_bound'));
      }
    }

    const returned = H.wechatReturn();
    if (returned.proof) signInWithWechat(returned.proof);
    else if (returned.outcome === 'snapshot') C.showMessage(alertBox, H.t('wechat_snapshot'));
    else if (returned.outcome === 'failed') C.showMessage(alertBox, H.t('wechat_failed'));
    mobile.focus();
  }

  /**
   * Bind the WeChat account the citizen came with. The sign-in has succeeded whatever happens
   * here: a proof that expired meanwhile (10 minutes) only means WeChat asks again next time.
   */
  async function bindWechat(token, proof) {
    try {
      await H.api('POST', '/citizen/wechat', { proof: proof }, token);
    } catch (error) { /* signed in all the same */ }
  }

  /** After a sign-in: registration, the agreement, or on to ?next=. */
  function carryOn(answer) {
    const next = C.nextPath();
    if (!answer.registered) window.location.replace(C.withNext('/book/register/', next));
    else if (answer.agreement_version_required > 0) window.location.replace(C.withNext('/book/agreement/', next));
    else window.location.replace(next);
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
