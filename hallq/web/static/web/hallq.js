/*
 * hallq.js — what every page script shares. Plain ES2017, no build step, no dependencies.
 *
 *   Hallq.api(method, path, body, token, headers)   JSON over /api/v1; throws Hallq.ApiError
 *   Hallq.stream(url, handlers, onState)    EventSource that keeps reconnecting
 *   Hallq.t(key, params)                    the page's translated strings (#hallq-messages)
 *   Hallq.formatTime / formatDate / formatWait / formatDuration
 *   Hallq.now()                             the server's clock (from the Date header)
 *   Hallq.deviceToken(kind, hallId)         a kiosk's or display's token from #token=…
 *   Hallq.wechatReturn()                    what WeChat's OAuth left in #wechat_proof=… / #wechat=…
 */
(function (global) {
  'use strict';

  const API_ROOT = '/api/v1';
  const HALL_EVENTS = [
    'snapshot',
    'ticket.issued', 'ticket.called', 'ticket.recalled', 'ticket.serving', 'ticket.done',
    'ticket.no_show', 'ticket.reinstated', 'ticket.transferred', 'ticket.expired',
    'counter.opened', 'counter.paused', 'counter.resumed', 'counter.closed',
  ];

  // ---------------------------------------------------------------- messages

  let messages = null;

  function loadMessages() {
    if (messages) return messages;
    const element = document.getElementById('hallq-messages');
    try {
      messages = element ? JSON.parse(element.textContent) : {};
    } catch (error) {
      messages = {};
    }
    return messages;
  }

  /** A translated string with its %(name)s placeholders filled in. */
  function t(key, params) {
    const text = loadMessages()[key];
    if (text == null) return key;
    if (!params) return text;
    return text.replace(/%\((\w+)\)s/g, (match, name) => (name in params ? String(params[name]) : match));
  }

  function language() {
    return document.documentElement.lang || 'zh-hans';
  }

  // -------------------------------------------------------------------- clock

  // Wall screens often run with a wrong clock; the server's Date header corrects it.
  let clockOffset = 0;

  function noteServerDate(response) {
    const header = response.headers.get('Date');
    const server = header ? Date.parse(header) : NaN;
    if (!isNaN(server)) {
      const offset = server - Date.now();
      // The header has one-second resolution: ignore differences below that.
      clockOffset = Math.abs(offset) > 1500 ? offset : 0;
    }
  }

  function now() {
    return Date.now() + clockOffset;
  }

  // ---------------------------------------------------------------------- api

  class ApiError extends Error {
    constructor(status, code, message, body) {
      super(message);
      this.name = 'ApiError';
      this.status = status;
      this.code = code;
      this.body = body;
    }
  }

  /**
   * Call the API. `path` is under /api/v1 ("/halls/1/progress") or absolute ("/api/v1/…");
   * `extraHeaders` adds headers such as Idempotency-Key.
   * Resolves with the parsed JSON (null for 204); rejects with an ApiError whose message is
   * the server's human-readable one, or a translated network/server error.
   */
  async function api(method, path, body, token, extraHeaders) {
    const url = path.indexOf('/api/') === 0 ? path : API_ROOT + path;
    const headers = Object.assign(
      { Accept: 'application/json', 'Accept-Language': language() }, extraHeaders || {});
    if (body !== undefined && body !== null) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = 'Bearer ' + token;
    let response;
    try {
      response = await fetch(url, {
        method: method,
        headers: headers,
        body: body !== undefined && body !== null ? JSON.stringify(body) : undefined,
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (error) {
      throw new ApiError(0, 'network', t('network_error'), null);
    }
    noteServerDate(response);
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      const code = data && data.code ? data.code : 'http_' + response.status;
      const message = data && data.message ? data.message
        : t(response.status >= 500 ? 'server_error' : 'network_error');
      throw new ApiError(response.status, code, message, data);
    }
    return data;
  }

  // ------------------------------------------------------------------- stream

  /**
   * Listen to a server-sent event stream. `handlers` maps event names to functions of
   * (data, event); '*' receives every hall event without its own handler. `onState` gets
   * 'connecting' | 'open' | 'closed'.
   *
   * EventSource reconnects by itself after a network drop and resends Last-Event-ID. When the
   * browser gives up (an HTTP error, a proxy that answered HTML) a new EventSource is opened
   * after a back-off, carrying the last id as ?last_event_id= so no event is lost.
   */
  function stream(url, handlers, onState) {
    let source = null;
    let lastId = null;
    let stopped = false;
    let backoff = 1000;
    let timer = null;
    const names = Object.keys(handlers).filter((name) => name !== '*');
    if (handlers['*']) HALL_EVENTS.forEach((name) => { if (names.indexOf(name) < 0) names.push(name); });

    function state(value) {
      if (onState) onState(value);
    }

    function open() {
      let target = url;
      if (lastId) target += (target.indexOf('?') < 0 ? '?' : '&') + 'last_event_id=' + encodeURIComponent(lastId);
      source = new EventSource(target);
      state('connecting');
      source.onopen = () => {
        backoff = 1000;
        state('open');
      };
      source.onerror = () => {
        if (stopped) return;
        if (source.readyState === EventSource.CLOSED) {
          state('closed');
          source.close();
          timer = setTimeout(open, backoff);
          backoff = Math.min(backoff * 2, 30000);
        } else {
          state('connecting');
        }
      };
      names.forEach((name) => {
        source.addEventListener(name, (event) => {
          if (event.lastEventId) lastId = event.lastEventId;
          let data;
          try {
            data = JSON.parse(event.data);
          } catch (error) {
            return;
          }
          const handler = handlers[name] || handlers['*'];
          try {
            handler(data, event);
          } catch (error) {
            if (global.console) console.error('[hallq] handler for ' + name + ' failed', error);
          }
        });
      });
    }

    open();
    return {
      close() {
        stopped = true;
        clearTimeout(timer);
        if (source) source.close();
      },
      get lastEventId() { return lastId; },
    };
  }

  /** Show a stream's state on a `.live` element (green dot when open). */
  function showConnection(element, value) {
    if (!element) return;
    element.dataset.state = value;
    element.textContent = t(value === 'open' ? 'connected' : 'connecting');
  }

  // --------------------------------------------------------------- formatting

  const formatters = {};

  function formatter(timeZone, options) {
    const key = timeZone + JSON.stringify(options);
    if (!formatters[key]) {
      const locale = language().toLowerCase().indexOf('zh') === 0 ? 'zh-CN' : 'en-GB';
      try {
        formatters[key] = new Intl.DateTimeFormat(locale, Object.assign({ timeZone: timeZone }, options));
      } catch (error) { // an unknown zone: the device's own
        formatters[key] = new Intl.DateTimeFormat(locale, options);
      }
    }
    return formatters[key];
  }

  function toDate(value) {
    return value instanceof Date ? value : new Date(value);
  }

  /** "14:05" in the hall's time zone (seconds on request). */
  function formatTime(value, timeZone, withSeconds) {
    const options = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    if (withSeconds) options.second = '2-digit';
    return formatter(timeZone, options).format(toDate(value));
  }

  /** "11月26日 星期四" / "Thursday 26 November" in the hall's time zone. */
  function formatDate(value, timeZone) {
    return formatter(timeZone, { month: 'long', day: 'numeric', weekday: 'long' }).format(toDate(value));
  }

  /** The estimated wait as citizens read it: "约 12 分钟", or that no counter is open yet. */
  function formatWait(seconds) {
    if (seconds == null) return t('no_counter_open');
    if (seconds < 60) return t('under_a_minute');
    return t('about_minutes', { minutes: Math.round(seconds / 60) });
  }

  /** A measured duration: "12 分钟", "1 小时 5 分钟". */
  function formatDuration(seconds) {
    const minutes = Math.max(0, Math.floor(seconds / 60));
    if (minutes < 60) return t('minutes', { minutes: minutes });
    return t('hours_minutes', { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
  }

  // ------------------------------------------------------------------ helpers

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      const args = arguments;
      clearTimeout(timer);
      timer = setTimeout(() => fn.apply(null, args), ms);
    };
  }

  /** Keep an element showing the hall-local time, updated every second. */
  function runClock(timeElement, dateElement, timeZone) {
    function tick() {
      const moment = new Date(now());
      timeElement.textContent = formatTime(moment, timeZone);
      timeElement.setAttribute('datetime', moment.toISOString());
      if (dateElement) dateElement.textContent = formatDate(moment, timeZone);
    }
    tick();
    return setInterval(tick, 1000);
  }

  /**
   * A device's token: taken from the URL fragment (#token=…) into localStorage, then removed
   * from the address bar so it is not shown or bookmarked. Returns the stored token or ''.
   */
  function deviceToken(kind, hallId) {
    const key = 'hallq:' + kind + '-token:' + hallId;
    const match = /(?:^|[#&])token=([^&]+)/.exec(global.location.hash);
    if (match) {
      try {
        global.localStorage.setItem(key, decodeURIComponent(match[1]));
      } catch (error) { /* private mode: keep it for this page view only */
        return decodeURIComponent(match[1]);
      }
      global.history.replaceState(null, '', global.location.pathname + global.location.search);
    }
    try {
      return global.localStorage.getItem(key) || '';
    } catch (error) {
      return '';
    }
  }

  function forgetDeviceToken(kind, hallId) {
    try {
      global.localStorage.removeItem('hallq:' + kind + '-token:' + hallId);
    } catch (error) { /* nothing stored */ }
  }

  /**
   * What the official account's OAuth left in the address on the way back: { proof, outcome }
   * from #wechat_proof=… or #wechat=snapshot|failed. It leaves the address bar at once, so a
   * proof is not bookmarked or passed on with the link.
   */
  function wechatReturn() {
    const params = new URLSearchParams(global.location.hash.slice(1));
    const result = { proof: params.get('wechat_proof') || '', outcome: params.get('wechat') || '' };
    if (result.proof || result.outcome) {
      global.history.replaceState(null, '', global.location.pathname + global.location.search);
    }
    return result;
  }

  /** Create an element: h('li', {className: 'x'}, 'text', child, …). */
  function h(tag, attributes) {
    const element = document.createElement(tag);
    const props = attributes || {};
    Object.keys(props).forEach((name) => {
      const value = props[name];
      if (value == null || value === false) return;
      if (name === 'className') element.className = value;
      else if (name === 'dataset') Object.assign(element.dataset, value);
      else if (name.indexOf('on') === 0) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? '' : value);
    });
    for (let i = 2; i < arguments.length; i++) {
      const child = arguments[i];
      if (child == null || child === false) continue;
      element.append(child instanceof Node ? child : String(child));
    }
    return element;
  }

  global.Hallq = {
    HALL_EVENTS: HALL_EVENTS,
    ApiError: ApiError,
    api: api,
    stream: stream,
    showConnection: showConnection,
    t: t,
    now: now,
    formatTime: formatTime,
    formatDate: formatDate,
    formatWait: formatWait,
    formatDuration: formatDuration,
    debounce: debounce,
    runClock: runClock,
    deviceToken: deviceToken,
    forgetDeviceToken: forgetDeviceToken,
    wechatReturn: wechatReturn,
    h: h,
  };
})(window);
