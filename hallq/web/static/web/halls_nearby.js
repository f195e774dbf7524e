/*
 * Halls near me: every hall sorted by its distance from the phone, with how busy it is (its
 * queue progress) and a "Navigate" button that opens the hall in Amap, Tencent Maps or Baidu
 * Maps through their URI pages (no API key; on a phone they hand over to the installed app).
 * Without the position the halls are listed by name. The position is used here and never sent.
 *
 *   window.HallsNearby.wgs84ToGcj02(lat, lng) / distanceMeters(a, b)   exposed for the tests
 */
(function () {
  'use strict';

  const H = window.Hallq;
  const LOCATE_MS = 10000;
  const byId = (id) => document.getElementById(id);
  const list = byId('halls');
  const status = byId('location-status');

  // ----------------------------------------------------------- coordinates

  // Browsers report WGS-84 (GPS) positions, but the halls are stored in GCJ-02, China's
  // mandated offset datum that Amap and Tencent Maps use: the device position is converted
  // before distances are measured, or every hall would look 300–600 m off. The formula is the
  // standard public one, as written in prcoords 1.0.2 (public domain, wgs_gcj), including its
  // rough bounding box of China outside which GCJ-02 equals WGS-84.
  const GCJ_A = 6378245;
  const GCJ_EE = 0.00669342162296594323;

  function outsideChina(lat, lng) {
    return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  function wgs84ToGcj02(lat, lng) {
    if (outsideChina(lat, lng)) return { lat: lat, lng: lng };
    const x = lng - 105;
    const y = lat - 35;
    const pi = Math.PI;
    const dLatMetres = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
      + (2 * Math.sin(x * 6 * pi) + 2 * Math.sin(x * 2 * pi)
        + 2 * Math.sin(y * pi) + 4 * Math.sin(y / 3 * pi)
        + 16 * Math.sin(y / 12 * pi) + 32 * Math.sin(y / 30 * pi)) * 20 / 3;
    const dLngMetres = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
      + (2 * Math.sin(x * 6 * pi) + 2 * Math.sin(x * 2 * pi)
        + 2 * Math.sin(x * pi) + 4 * Math.sin(x / 3 * pi)
        + 15 * Math.sin(x / 12 * pi) + 30 * Math.sin(x / 30 * pi)) * 20 / 3;
    const radLat = lat / 180 * pi;
    const magic = 1 - GCJ_EE * Math.pow(Math.sin(radLat), 2);
    const latDegreeMetres = (pi / 180) * (GCJ_A * (1 - GCJ_EE)) / Math.pow(magic, 1.5);
    const lngDegreeMetres = (pi / 180) * (GCJ_A * Math.cos(radLat) / Math.sqrt(magic));
    return { lat: lat + dLatMetres / latDegreeMetres, lng: lng + dLngMetres / lngDegreeMetres };
  }

  /** Great-circle (haversine) distance in metres; at a city's scale the datum's ellipsoid
   * makes no difference worth a longer formula. */
  function distanceMeters(a, b) {
    const radians = Math.PI / 180;
    const dLat = (b.lat - a.lat) * radians;
    const dLng = (b.lng - a.lng) * radians;
    const h = Math.pow(Math.sin(dLat / 2), 2)
      + Math.cos(a.lat * radians) * Math.cos(b.lat * radians) * Math.pow(Math.sin(dLng / 2), 2);
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  // ------------------------------------------------------------------ maps

  function mapLinks(hall) {
    const name = encodeURIComponent(hall.name);
    const address = encodeURIComponent(hall.address || hall.name);
    return {
      amap: 'https://uri.amap.com/marker?position=' + hall.longitude + ',' + hall.latitude
        + '&name=' + name + '&src=hallq&coordinate=gaode&callnative=1',
      tencent: 'https://apis.map.qq.com/uri/v1/marker?marker=coord:' + hall.latitude + ',' + hall.longitude
        + ';title:' + name + ';addr:' + address + '&referer=hallq',
      baidu: 'https://api.map.baidu.com/marker?location=' + hall.latitude + ',' + hall.longitude
        + '&title=' + name + '&content=' + address + '&output=html&src=hallq&coord_type=gcj02',
    };
  }

  function navigation(hall) {
    if (hall.latitude == null || hall.longitude == null) return null;
    const links = mapLinks(hall);
    const other = (href, key, map) => H.h('a', { className: 'btn btn-block', href: href, dataset: { map: map } }, H.t(key));
    return H.h('div', { className: 'button-row nearby-navigation' },
      H.h('a', { className: 'btn btn-primary', href: links.amap, dataset: { map: 'amap' } }, H.t('navigate')),
      H.h('details', { className: 'map-menu' },
        H.h('summary', { className: 'btn' }, H.t('other_maps')),
        H.h('div', { className: 'map-menu-items' },
          other(links.amap, 'amap', 'amap-menu'),
          other(links.tencent, 'tencent_map', 'tencent'),
          other(links.baidu, 'baidu_map', 'baidu'))));
  }

  // ----------------------------------------------------------------- halls

  function formatDistance(meters) {
    if (meters < 1000) return H.t('distance_meters', { meters: Math.round(meters / 10) * 10 });
    return H.t('distance_kilometres', { kilometres: (meters / 1000).toFixed(meters < 10000 ? 1 : 0) });
  }

  function hallCard(hall) {
    const distance = hall.distance == null ? null
      : H.h('span', { className: 'nearby-distance num', dataset: { field: 'distance' } }, formatDistance(hall.distance));
    return H.h('li', { dataset: { hallId: hall.id, distance: hall.distance == null ? '' : Math.round(hall.distance) } },
      H.h('article', { className: 'card nearby-hall' },
        H.h('div', { className: 'appointment-head' }, H.h('h2', null, hall.name), distance),
        H.h('p', { className: 'muted' }, hall.address || hall.organisation),
        H.h('p', { className: 'nearby-busy' },
          H.h('span', { className: 'pill', dataset: { field: 'busy' }, hidden: true }), ' ',
          H.h('span', { className: 'muted', dataset: { field: 'open' } })),
        navigation(hall),
        H.h('a', { className: 'btn btn-quiet btn-block', href: '/progress/' + hall.id + '/' }, H.t('queue_progress'))));
  }

  async function showBusyness(item) {
    const progress = await H.api('GET', '/halls/' + item.dataset.hallId + '/progress');
    const pill = item.querySelector('[data-field="busy"]');
    pill.textContent = progress.idle ? H.t('idle') : H.t('busy', { count: progress.waiting });
    pill.className = 'pill ' + (progress.idle ? 'pill-idle' : 'pill-busy');
    pill.hidden = false;
    item.querySelector('[data-field="open"]').textContent = progress.open_counters
      ? H.t('open_counters', { count: progress.open_counters }) : H.t('no_counter_open');
  }

  function locate() {
    return new Promise((resolve, reject) => {
      if (!navigator.geolocation) {
        reject(new Error('no geolocation'));
        return;
      }
      navigator.geolocation.getCurrentPosition(resolve, reject,
        { enableHighAccuracy: false, timeout: LOCATE_MS, maximumAge: 60000 });
    });
  }

  function byName(a, b) {
    return a.name.localeCompare(b.name, document.documentElement.lang || 'zh-hans');
  }

  function sorted(halls, position) {
    if (!position) return halls.slice().sort(byName);
    const here = wgs84ToGcj02(position.coords.latitude, position.coords.longitude);
    halls.forEach((hall) => {
      hall.distance = hall.latitude == null || hall.longitude == null ? null
        : distanceMeters(here, { lat: hall.latitude, lng: hall.longitude });
    });
    // Halls without coordinates come last, by name.
    return halls.slice().sort((a, b) => {
      if (a.distance == null || b.distance == null) {
        return (a.distance == null) - (b.distance == null) || byName(a, b);
      }
      return a.distance - b.distance;
    });
  }

  async function show() {
    const [halls, position] = await Promise.all([
      H.api('GET', '/halls'),
      locate().catch(() => null),
    ]);
    status.textContent = position ? H.t('sorted_by_distance') : H.t('location_unavailable');
    status.classList.toggle('hint', !position);
    list.dataset.sortedBy = position ? 'distance' : 'name';
    list.textContent = '';
    if (!halls.length) list.append(H.h('li', { className: 'card empty' }, H.t('no_halls_yet')));
    sorted(halls, position).forEach((hall) => list.append(hallCard(hall)));
    list.setAttribute('aria-busy', 'false');
    // How busy each hall is, as it arrives; a hall whose progress fails just shows none.
    Array.prototype.forEach.call(list.querySelectorAll('li[data-hall-id]'),
      (item) => showBusyness(item).catch(() => {}));
  }

  window.HallsNearby = { wgs84ToGcj02: wgs84ToGcj02, distanceMeters: distanceMeters };

  show().catch((error) => {
    list.setAttribute('aria-busy', 'false');
    status.textContent = error.message;
  });
})();
