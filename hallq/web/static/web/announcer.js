/*
 * hallq display-board announcer: chime + Mandarin call ("请A零一二号到3号窗口办理").
 *
 * Dependency-free, no build step, ES2017. Works offline:
 *   - uses the browser's own speechSynthesis when a local zh voice exists;
 *   - otherwise plays pre-recorded segments (static/web/voice/, made by
 *     scripts/make_voice.sh) back to back via WebAudio, falling back to
 *     <audio> elements.
 *
 *   HallqAnnouncer.init({baseUrl: '/static/web/voice/', lang: 'zh-CN'});
 *   HallqAnnouncer.announce({number: 'A012', counter: '3', recall: false});
 *   button.onclick = () => HallqAnnouncer.unlock();   // autoplay policies
 *
 * Announcements play strictly one after another. When one finishes (or fails,
 * or hits its hard timeout) window receives a 'hallq:announced' CustomEvent
 * with detail {number, counter, recall, method: 'speech'|'segments'|'failed',
 * text}, and the queue moves on. 'hallq:locked' is dispatched when the browser
 * blocked audio and unlock() must be called from a user gesture.
 */
(function (global) {
  'use strict';

  var DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

  var DEFAULTS = {
    baseUrl: '/static/web/voice/',
    lang: 'zh-CN',
    mode: 'auto',              // 'auto' | 'speech' | 'segments'
    voiceWaitMs: 1500,         // how long to wait for voiceschanged
    allowRemoteVoices: false,  // network voices (e.g. Google's) break offline
    // espeak voices exposed through speech-dispatcher read 请 as "qing three"
    // (espeak-ng 1.51 bug); the pre-recorded segments avoid that.
    voiceFilter: function (v) { return !/espeak/i.test(v.name || ''); },
    speechRate: 0.9,
    volume: 1,
    gapMs: 40,                 // silence between two segments
    gapAfterMs: { chime: 120, recall: 300 },
    announceTimeoutMs: 20000,  // hard limit for one announcement
    autoUnlock: true,          // unlock on the first click/touch/key press
    maxHistory: 50
  };

  var opts = assign({}, DEFAULTS);
  var manifest = null;
  var readyPromise = null;
  var ctx = null;                 // AudioContext
  var buffers = {};               // key -> Promise<AudioBuffer>
  var elements = {};              // key -> HTMLAudioElement
  var tail = Promise.resolve();   // queue
  var pending = 0;
  var current = null;             // {stop: fn} of the playing announcement
  var voicesSettled = false;
  var voicesPromise = null;
  var keepUtterance = null;       // keep a reference: Chrome GCs it otherwise

  var api = {
    lastSpoken: [],
    locked: false,
    voice: null,
    init: init,
    announce: announce,
    unlock: unlock,
    segmentsFor: segmentsFor,
    textFor: textFor,
    counterKeys: counterKeys
  };
  Object.defineProperty(api, 'pending', { get: function () { return pending; } });
  Object.defineProperty(api, 'manifest', { get: function () { return manifest; } });

  // ---------------------------------------------------------------- helpers

  function assign(dst) {
    for (var i = 1; i < arguments.length; i++) {
      var src = arguments[i];
      if (src) for (var k in src) if (Object.prototype.hasOwnProperty.call(src, k)) dst[k] = src[k];
    }
    return dst;
  }

  function delay(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function withTimeout(promise, ms, message) {
    var timer;
    return Promise.race([
      promise,
      new Promise(function (_, reject) {
        timer = setTimeout(function () { reject(new Error(message || 'timeout')); }, ms);
      })
    ]).then(function (v) { clearTimeout(timer); return v; },
            function (e) { clearTimeout(timer); throw e; });
  }

  function emit(name, detail) {
    try {
      var ev;
      if (typeof global.CustomEvent === 'function') {
        ev = new global.CustomEvent(name, { detail: detail });
      } else {
        ev = global.document.createEvent('CustomEvent');
        ev.initCustomEvent(name, false, false, detail);
      }
      global.dispatchEvent(ev);
    } catch (e) { /* never let a listener break the queue */ }
  }

  function fetchBinary(url, asJson) {
    if (typeof global.fetch === 'function') {
      return global.fetch(url, { credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status + ' for ' + url);
        return asJson ? r.json() : r.arrayBuffer();
      });
    }
    return new Promise(function (resolve, reject) {
      var x = new XMLHttpRequest();
      x.open('GET', url);
      x.responseType = asJson ? 'text' : 'arraybuffer';
      x.onload = function () {
        if (x.status < 200 || x.status >= 300) return reject(new Error('HTTP ' + x.status + ' for ' + url));
        try { resolve(asJson ? JSON.parse(x.responseText) : x.response); } catch (e) { reject(e); }
      };
      x.onerror = function () { reject(new Error('network error for ' + url)); };
      x.send();
    });
  }

  function normNumber(number) {
    return String(number == null ? '' : number).trim().toUpperCase();
  }

  function normCounter(counter) {
    var s = String(counter == null ? '' : counter).trim();
    return /^\d+$/.test(s) ? String(parseInt(s, 10)) : s.toUpperCase();
  }

  // ------------------------------------------------------------ pure parts

  /** Segment keys for a counter: 3 -> [3], 12 -> [shi,2], 20 -> [2,shi], 21 -> [2,shi,1]. */
  function counterKeys(counter) {
    var s = normCounter(counter);
    if (/^\d+$/.test(s)) {
      var n = parseInt(s, 10);
      if (n >= 1 && n <= 99) {
        var tens = Math.floor(n / 10), ones = n % 10, out = [];
        if (tens > 1) out.push(String(tens));
        if (tens > 0) out.push('shi');
        if (ones > 0 || tens === 0) out.push(String(ones));
        return out;
      }
    }
    return spell(s); // 0, 100+ or non-numeric: read character by character
  }

  function spell(s) {
    var out = [];
    for (var i = 0; i < s.length; i++) {
      var c = s.charAt(i);
      if (/[0-9A-Z]/.test(c)) out.push(c);
    }
    return out;
  }

  /**
   * Keys of the whole announcement, chime included:
   * {number:'A012', counter:'12'} ->
   *   ['chime','qing','A','0','1','2','hao','dao','shi','2','window']
   * A recall inserts 'recall' (再次呼叫) after the chime.
   */
  function segmentsFor(item) {
    item = item || {};
    var keys = ['chime'];
    if (item.recall) keys.push('recall');
    keys.push('qing');
    keys = keys.concat(spell(normNumber(item.number)));
    keys.push('hao', 'dao');
    keys = keys.concat(counterKeys(item.counter));
    keys.push('window');
    return keys;
  }

  /** Speech text, ticket spelled digit by digit: '请A零一二号到3号窗口办理'. */
  function textFor(item) {
    item = item || {};
    var num = normNumber(item.number).replace(/[0-9]/g, function (d) { return DIGITS[+d]; })
      .replace(/[^A-Z\u4e00-\u9fff]/g, '');
    var text = '请' + num + '号到' + normCounter(item.counter) + '号窗口办理';
    return item.recall ? '再次呼叫，' + text : text;
  }

  // ------------------------------------------------------------------- init

  function init(options) {
    opts = assign({}, DEFAULTS, options || {});
    if (opts.baseUrl && opts.baseUrl.charAt(opts.baseUrl.length - 1) !== '/') opts.baseUrl += '/';
    buffers = {};
    elements = {};
    if (opts.autoUnlock && global.document && !init.listening) {
      init.listening = true;
      var once = function () {
        ['pointerdown', 'touchend', 'mousedown', 'keydown'].forEach(function (t) {
          global.document.removeEventListener(t, once, true);
        });
        unlock();
      };
      ['pointerdown', 'touchend', 'mousedown', 'keydown'].forEach(function (t) {
        global.document.addEventListener(t, once, true);
      });
    }
    voicesPromise = null;
    waitForVoices(); // start listening early; voices load asynchronously
    readyPromise = fetchBinary(opts.baseUrl + 'manifest.json', true).then(function (m) {
      manifest = m;
      preload();
      return m;
    }, function (e) {
      manifest = null;
      warn('manifest not loaded', e);
      return null;
    });
    return readyPromise;
  }

  function ready() { return readyPromise || init(); }

  function warn(msg, e) {
    if (global.console && console.warn) console.warn('[HallqAnnouncer] ' + msg, e || '');
  }

  function segmentUrl(key) {
    var seg = manifest && manifest.segments && manifest.segments[key];
    return seg ? opts.baseUrl + seg.file : null;
  }

  function getAudioContext() {
    if (ctx) return ctx;
    var AC = global.AudioContext || global.webkitAudioContext;
    if (!AC) return null;
    try { ctx = new AC(); } catch (e) { ctx = null; }
    return ctx;
  }

  function decode(data) {
    // Old WebKit only has the callback form of decodeAudioData.
    return new Promise(function (resolve, reject) {
      var p = ctx.decodeAudioData(data, resolve, reject);
      if (p && typeof p.then === 'function') p.then(resolve, reject);
    });
  }

  function loadBuffer(key) {
    if (!buffers[key]) {
      var url = segmentUrl(key);
      buffers[key] = url && getAudioContext()
        ? fetchBinary(url).then(decode)
        : Promise.reject(new Error('no segment ' + key));
      buffers[key].catch(function () { delete buffers[key]; }); // retry next time
    }
    return buffers[key];
  }

  function preload() {
    if (!manifest || !manifest.segments) return;
    var keys = Object.keys(manifest.segments);
    if (getAudioContext()) {
      keys.forEach(function (k) { loadBuffer(k).catch(function (e) { warn('decode ' + k, e); }); });
    } else {
      keys.forEach(audioElement);
    }
  }

  function audioElement(key) {
    if (!elements[key]) {
      var url = segmentUrl(key);
      if (!url || typeof global.Audio !== 'function') return null;
      var a = new global.Audio();
      a.preload = 'auto';
      a.src = url;
      elements[key] = a;
    }
    return elements[key];
  }

  // ----------------------------------------------------------------- unlock

  /** Call from a user gesture (click/touch) so browsers allow audio. */
  function unlock() {
    var ac = getAudioContext();
    var jobs = [];
    if (ac) {
      try {
        var src = ac.createBufferSource();
        src.buffer = ac.createBuffer(1, 1, 22050);
        src.connect(ac.destination);
        src.start(0);
      } catch (e) { /* ignore */ }
      if (ac.state !== 'running' && ac.resume) jobs.push(ac.resume().catch(function () {}));
    } else {
      Object.keys(elements).forEach(function (k) {
        var a = elements[k];
        a.muted = true;
        var p = a.play();
        if (p && p.then) jobs.push(p.then(function () { a.pause(); a.currentTime = 0; a.muted = false; },
                                          function () { a.muted = false; }));
        else { a.pause(); a.muted = false; }
      });
    }
    var ss = global.speechSynthesis;
    if (ss && typeof global.SpeechSynthesisUtterance === 'function' && !ss.speaking) {
      try { // iOS/WeChat: the first speak() must happen inside a gesture
        var u = new global.SpeechSynthesisUtterance(' ');
        u.volume = 0;
        ss.speak(u);
      } catch (e) { /* ignore */ }
    }
    api.locked = false;
    return Promise.all(jobs).then(function () { return !ac || ac.state === 'running'; });
  }

  // ----------------------------------------------------------------- voices

  function pickVoice() {
    var ss = global.speechSynthesis;
    if (!ss || typeof global.SpeechSynthesisUtterance !== 'function') return null;
    var voices = [];
    try { voices = ss.getVoices() || []; } catch (e) { voices = []; }
    var want = String(opts.lang || 'zh-CN').toLowerCase().replace(/_/g, '-');
    var best = null, bestScore = -1;
    voices.forEach(function (v) {
      var lang = String(v.lang || '').toLowerCase().replace(/_/g, '-');
      if (lang.indexOf('zh') !== 0) return;
      if (!opts.allowRemoteVoices && v.localService === false) return;
      if (opts.voiceFilter && !opts.voiceFilter(v)) return;
      var score = 1;
      if (lang === want) score = 100;
      else if (lang === 'zh-cn' || lang === 'zh-hans' || lang === 'zh-hans-cn' || lang === 'zh' || lang === 'cmn') score = 50;
      else if (lang === 'zh-tw' || lang === 'zh-hant' || lang === 'zh-hant-tw') score = 20;
      else if (lang === 'zh-hk' || lang.indexOf('yue') >= 0) score = 5; // Cantonese: last resort
      if (v.localService) score += 1;
      if (v['default']) score += 0.5;
      if (score > bestScore) { best = v; bestScore = score; }
    });
    return best;
  }

  /** Resolves once voices are known (voiceschanged fired or voiceWaitMs passed). */
  function waitForVoices() {
    if (voicesPromise) return voicesPromise;
    var ss = global.speechSynthesis;
    if (!ss) { voicesSettled = true; voicesPromise = Promise.resolve(); return voicesPromise; }
    voicesPromise = new Promise(function (resolve) {
      var done = function () {
        voicesSettled = true;
        if (ss.removeEventListener) ss.removeEventListener('voiceschanged', done);
        resolve();
      };
      try { if ((ss.getVoices() || []).length) return done(); } catch (e) { /* ignore */ }
      if (ss.addEventListener) ss.addEventListener('voiceschanged', done);
      else ss.onvoiceschanged = done;
      setTimeout(done, opts.voiceWaitMs);
    });
    return voicesPromise;
  }

  // ----------------------------------------------------------------- speech

  function speak(text, voice, session) {
    var ss = global.speechSynthesis;
    return new Promise(function (resolve, reject) {
      var started = false, finished = false, t1, t2;
      var finish = function (err) {
        if (finished) return;
        finished = true;
        clearTimeout(t1); clearTimeout(t2);
        keepUtterance = null;
        if (err) reject(err); else resolve();
      };
      var u = new global.SpeechSynthesisUtterance(text);
      keepUtterance = u;
      u.voice = voice;
      u.lang = voice.lang || opts.lang;
      u.rate = opts.speechRate;
      u.volume = opts.volume;
      u.onstart = function () {
        started = true;
        clearTimeout(t1);
        // Some engines never fire onend: assume done after a generous estimate.
        t2 = setTimeout(function () { finish(); }, 4000 + text.length * 450);
      };
      u.onend = function () { finish(); };
      u.onerror = function (e) {
        // 'interrupted'/'canceled' after it started counts as spoken
        if (started && e && (e.error === 'interrupted' || e.error === 'canceled')) finish();
        else finish(new Error('speech error: ' + (e && e.error)));
      };
      session.stop = function () { try { ss.cancel(); } catch (e) { /* ignore */ } finish(new Error('stopped')); };
      try {
        if (ss.speaking || ss.pending) ss.cancel();
        if (ss.paused) ss.resume();
        ss.speak(u);
      } catch (e) { return finish(e); }
      t1 = setTimeout(function () {   // never started (locked, engine hung)
        if (!started) { try { ss.cancel(); } catch (e) { /* ignore */ } finish(new Error('speech did not start')); }
      }, 3000);
    });
  }

  // --------------------------------------------------------------- segments

  function gapAfter(key) {
    var g = opts.gapAfterMs && opts.gapAfterMs[key];
    return (g == null ? opts.gapMs : g) / 1000;
  }

  function ensureRunning(ac) {
    if (ac.state === 'running') return Promise.resolve(true);
    var p = ac.resume ? ac.resume().catch(function () {}) : Promise.resolve();
    return Promise.race([p, delay(400)]).then(function () { return ac.state === 'running'; });
  }

  function playWebAudio(keys, session) {
    var ac = getAudioContext();
    if (!ac) return Promise.reject(new Error('no WebAudio'));
    return Promise.all(keys.map(loadBuffer)).then(function (bufs) {
      return ensureRunning(ac).then(function (running) {
        if (!running) throw lockedError();
        return new Promise(function (resolve) {
          var t = ac.currentTime + 0.05, sources = [], timer, done = false;
          var finish = function () {
            if (done) return;
            done = true;
            clearTimeout(timer);
            resolve();
          };
          bufs.forEach(function (buf, i) {
            var src = ac.createBufferSource();
            src.buffer = buf;
            var gain = ac.createGain ? ac.createGain() : null;
            if (gain) { gain.gain.value = opts.volume; src.connect(gain); gain.connect(ac.destination); }
            else src.connect(ac.destination);
            src.start(t);
            sources.push(src);
            t += buf.duration + (i < bufs.length - 1 ? gapAfter(keys[i]) : 0);
          });
          sources[sources.length - 1].onended = finish;
          timer = setTimeout(finish, (t - ac.currentTime) * 1000 + 1500);
          session.stop = function () {
            sources.forEach(function (s) { try { s.stop(0); } catch (e) { /* ignore */ } });
            finish();
          };
        });
      });
    });
  }

  function lockedError() {
    var e = new Error('audio playback blocked: call HallqAnnouncer.unlock() from a user gesture');
    e.locked = true;
    return e;
  }

  function playOneElement(key, session) {
    var a = audioElement(key);
    if (!a) return Promise.reject(new Error('no segment ' + key));
    var seg = manifest.segments[key];
    return new Promise(function (resolve, reject) {
      var timer, done = false;
      var finish = function (err) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        a.onended = a.onerror = null;
        if (err) reject(err); else resolve();
      };
      a.onended = function () { finish(); };
      a.onerror = function () { finish(new Error('cannot play ' + key)); };
      session.stop = function () { try { a.pause(); } catch (e) { /* ignore */ } finish(new Error('stopped')); };
      timer = setTimeout(function () { try { a.pause(); } catch (e) { /* ignore */ } finish(); },
                         (seg.ms || 2000) + 2500);
      try { a.currentTime = 0; } catch (e) { /* not loaded yet */ }
      a.volume = opts.volume;
      var p = a.play();
      if (p && p.catch) {
        p.catch(function (e) {
          finish(e && e.name === 'NotAllowedError' ? lockedError() : e);
        });
      }
    });
  }

  function playElements(keys, session) {
    var chain = Promise.resolve();
    keys.forEach(function (key, i) {
      chain = chain.then(function () {
        if (session.aborted) throw new Error('stopped');
        return playOneElement(key, session);
      }).then(function () {
        return i < keys.length - 1 ? delay(gapAfter(key) * 1000) : null;
      });
    });
    return chain;
  }

  function playSegments(keys, session) {
    if (!manifest || !manifest.segments) return Promise.reject(new Error('no voice manifest'));
    keys = keys.filter(function (k) {
      if (manifest.segments[k]) return true;
      warn('missing segment ' + k);
      return false;
    });
    if (!keys.length) return Promise.reject(new Error('nothing to play'));
    return playWebAudio(keys, session).catch(function (e) {
      if (session.aborted) throw e;
      // decode failure, no WebAudio, or a suspended context: try <audio>
      return playElements(keys, session).catch(function (e2) { throw e2.locked ? e2 : (e.locked ? e : e2); });
    });
  }

  // ------------------------------------------------------------------ queue

  function run(item) {
    var session = { stop: function () {}, aborted: false };
    current = session;
    var text = textFor(item);
    var detail = { number: item.number, counter: item.counter, recall: !!item.recall, method: 'failed', text: text };

    var work = ready().then(function () {
      var wantSpeech = opts.mode !== 'segments' && global.speechSynthesis;
      return (wantSpeech && !voicesSettled ? waitForVoices() : Promise.resolve()).then(function () {
        var voice = wantSpeech ? pickVoice() : null;
        api.voice = voice;
        if (voice) {
          return playSegments(['chime'], session).catch(function (e) { warn('chime', e); })
            .then(function () {
              if (session.aborted) throw new Error('stopped');
              return speak(text, voice, session);
            })
            .then(function () { return 'speech'; }, function (e) {
              if (session.aborted) throw e;
              warn('speech failed, using recorded segments', e);
              return playSegments(segmentsFor(item).slice(1), session).then(function () { return 'segments'; });
            });
        }
        if (opts.mode === 'speech') throw new Error('no zh voice available');
        return playSegments(segmentsFor(item), session).then(function () { return 'segments'; });
      });
    });

    return withTimeout(work, opts.announceTimeoutMs, 'announcement timed out').then(function (method) {
      detail.method = method;
      api.locked = false;
      api.lastSpoken.push(text);
      if (api.lastSpoken.length > opts.maxHistory) api.lastSpoken.splice(0, api.lastSpoken.length - opts.maxHistory);
    }, function (e) {
      session.aborted = true;
      try { session.stop(); } catch (e2) { /* ignore */ }
      detail.error = String((e && e.message) || e);
      if (e && e.locked) {
        api.locked = true;
        emit('hallq:locked', { error: detail.error });
      }
      warn('announcement failed', e);
    }).then(function () {
      current = null;
      emit('hallq:announced', detail);
      return detail;
    });
  }

  /** Enqueue one call; resolves with the 'hallq:announced' detail. */
  function announce(item) {
    item = assign({}, item || {});
    item.number = normNumber(item.number);
    item.counter = normCounter(item.counter);
    item.recall = !!item.recall;
    pending++;
    var p = tail.then(function () { return run(item); });
    tail = p.then(function () { pending--; }, function () { pending--; });
    return p;
  }

  global.HallqAnnouncer = api;
})(window);
