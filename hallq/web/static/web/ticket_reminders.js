/*
 * The ticket page's reminders (§5, §6): binding the ticket to the visitor's WeChat account, so
 * the official account tells them before the call and when they are called, and their own
 * pre-call distance.
 *
 * "Get call reminders in WeChat" goes through the official account's OAuth, which comes back
 * to this page with #wechat_proof=… (bound here with POST /tickets/{id}/bind), or with
 * #wechat=snapshot for WeChat's snapshot page, whose visitor cannot be told apart.
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const body = document.body;
  const ticketId = Number(body.dataset.ticketId);
  const query = '?token=' + encodeURIComponent(body.dataset.token);
  // What the official account can still remind about (a called ticket can be recalled).
  const IN_QUEUE = ['waiting', 'called'];

  const byId = (id) => document.getElementById(id);
  const message = byId('reminders-message');
  const distance = byId('pre-call-distance');

  function show(kind, text) {
    message.hidden = !text;
    message.className = 'alert alert-' + kind;
    message.textContent = text || '';
  }

  function showBound() {
    const bound = byId('wechat-bound');
    if (!bound) return; // the page was rendered before the account was configured
    bound.hidden = false;
    byId('wechat-bind').hidden = true;
  }

  async function bind(proof) {
    try {
      await H.api('POST', '/tickets/' + ticketId + '/bind' + query, { proof: proof });
      show('info', '');
      showBound();
    } catch (error) {
      show('error', error.message);
    }
  }

  async function saveDistance() {
    const chosen = Number(distance.value);
    distance.disabled = true;
    try {
      const saved = await H.api(
        'PUT', '/tickets/' + ticketId + '/pre-call-distance' + query, { distance: chosen });
      body.dataset.preCallDistance = saved.pre_call_distance;
      show('info', H.t('pre_call_saved', { count: saved.pre_call_distance }));
    } catch (error) {
      distance.value = body.dataset.preCallDistance;
      show('error', error.message);
    } finally {
      distance.disabled = false;
    }
  }

  /** Reminders are for a ticket still in the queue; the distance only while it waits. */
  function follow(ticket) {
    byId('reminders').hidden = IN_QUEUE.indexOf(ticket.state) < 0;
    byId('pre-call').hidden = ticket.state !== 'waiting';
  }

  distance.addEventListener('change', saveDistance);
  document.addEventListener('hallq:ticket', (event) => follow(event.detail));

  const returned = H.wechatReturn();
  if (returned.proof) bind(returned.proof);
  else if (returned.outcome === 'snapshot') show('warn', H.t('wechat_snapshot'));
  else if (returned.outcome === 'failed') show('error', H.t('wechat_failed'));
})();
