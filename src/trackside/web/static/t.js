/* trackside browser tag (docs/browser-tag.md). No dependencies, never throws. Each event
 * has one id for the Meta Pixel call and the /collect beacon: Meta dedups the pair. */
(function (w, d) {
  "use strict";
  // Filled by the gateway when it serves this file (web/tag.py).
  var PREFIX = "__TRACKSIDE_PREFIX__";
  var SIGNALS = ["ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"];
  // Meta's standard events as sources/event_names.py spells them: Meta dedups case-sensitively.
  var STANDARD = "|AddPaymentInfo|AddToCart|AddToWishlist|CompleteRegistration|Contact|" +
    "CustomizeProduct|Donate|FindLocation|InitiateCheckout|Lead|PageView|Purchase|Schedule|" +
    "Search|StartTrial|SubmitApplication|Subscribe|ViewContent|";
  // For the gateway only, never the pixel.
  var PRIVATE = /^(items|cart_id|customer_id|cart_token|customer_token|signature|reference)$/;
  var consent = {};
  var endpoint = null;

  function safe(fn) {
    return function () {
      try { return fn.apply(this, arguments); } catch (e) { /* never break the page */ }
    };
  }

  function findEndpoint() {
    var s = d.currentScript;
    if (!s) {
      var all = d.getElementsByTagName("script");
      for (var i = 0; i < all.length; i++) {
        if (/\/t\.js(\?|$)/.test(all[i].src || "")) { s = all[i]; break; }
      }
    }
    if (s && s.getAttribute("data-endpoint")) return s.getAttribute("data-endpoint");
    if (s && s.src) return s.src.replace(/\/t\.js(\?.*)?$/, "/collect");
    return "/collect";
  }

  function cookies() {
    var out = {};
    var parts = (d.cookie || "").split(";");
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (eq < 0) continue;
      var name = parts[i].slice(0, eq).trim();
      if (name === "_fbp" || name === "_fbc" || name === "_ga" || name.indexOf("_ga_") === 0) {
        out[name] = parts[i].slice(eq + 1).trim();
      }
    }
    return out;
  }

  function queryParam(name) {
    var m = new RegExp("[?&]" + name + "=([^&#]*)").exec(w.location.search);
    if (!m) return null;
    try { return decodeURIComponent(m[1].replace(/\+/g, " ")); } catch (e) { return m[1]; }
  }

  // Consent Mode v2 state from gtag's internal store, when the page
  // runs gtag; an explicit trackside('consent', …) call wins over it.
  function googleConsent() {
    var out = {};
    var ics = w.google_tag_data && w.google_tag_data.ics && w.google_tag_data.ics.entries;
    if (!ics) return out;
    for (var i = 0; i < SIGNALS.length; i++) {
      var e = ics[SIGNALS[i]];
      if (!e) continue;
      var v = e.update !== undefined ? e.update : e["default"];
      if (v === true || v === false) out[SIGNALS[i]] = v ? "granted" : "denied";
    }
    return out;
  }

  function currentConsent() {
    var out = googleConsent();
    for (var k in consent) if (consent.hasOwnProperty(k)) out[k] = consent[k];
    return out;
  }

  function randomId() {
    var c = w.crypto || w.msCrypto;
    if (c && c.getRandomValues) {
      var b = new Uint8Array(16), s = "";
      c.getRandomValues(b);
      b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128; // uuid4 bits, as the server's ids
      for (var i = 0; i < 16; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
      return s;
    }
    return (Date.now().toString(16) + Math.random().toString(16).slice(2) +
            Math.random().toString(16).slice(2)).slice(0, 32);
  }

  // The server's purchase_event_id: prefix + reference, trimmed as the server trims it
  // (docs/browser-tag.md "Page API").
  function purchaseId(reference) {
    return PREFIX + String(reference).trim();
  }

  function pixelParams(p) {
    var out = {}, k;
    for (k in p) if (p.hasOwnProperty(k) && !PRIVATE.test(k)) out[k] = p[k];
    if (p.items && p.items.length) {
      out.contents = [];
      out.content_ids = [];
      for (var i = 0; i < p.items.length; i++) {
        var it = p.items[i] || {};
        out.contents.push({ id: String(it.id), quantity: it.quantity || 1, item_price: it.price });
        out.content_ids.push(String(it.id));
      }
      out.content_type = "product";
      out.num_items = p.items.length;
    }
    if (p.reference !== undefined) out.order_id = String(p.reference);
    return out;
  }

  function standardName(name) {
    var at = STANDARD.toLowerCase().indexOf("|" + name.toLowerCase() + "|");
    return at < 0 ? name : STANDARD.substr(at + 1, name.length);
  }

  function callPixel(name, params, id, c) {
    // A denied ad_storage means the pixel must not fire either.
    if (c.ad_storage === "denied" || typeof w.fbq !== "function") return false;
    w.fbq("track", name, pixelParams(params), { eventID: id });
    return true;
  }

  function beacon(body) {
    var url = endpoint || (endpoint = findEndpoint());
    var data = JSON.stringify(body);
    var n = w.navigator;
    // text/plain: a CORS-safelisted type, so no preflight and sendBeacon accepts it.
    if (n && n.sendBeacon) {
      try { if (n.sendBeacon(url, data)) return; } catch (e) { /* fall back to fetch */ }
    }
    if (w.fetch) post(url, data)["catch"](function () {});
  }

  function post(url, data) {
    return w.fetch(url, {
      method: "POST", body: data, keepalive: true, credentials: "include",
      headers: { "Content-Type": "text/plain" }
    });
  }

  // Without _fbp (or with a new fbclid) the first beacon's answer sets the cookies; the
  // page's other beacons wait for it (1.5 s at most, or until pagehide) to carry them too.
  var held = null;
  function flush() {
    var q = held;
    held = null;
    if (!q) return;
    var c = cookies();
    for (var i = 0; i < q.length; i++) { q[i].cookies = c; beacon(q[i]); }
  }

  function send(body) {
    if (held) { held.push(body); return; }
    var c = body.cookies;
    var needsCookie = !c._fbp || (body.fbclid && (c._fbc || "").indexOf("." + body.fbclid) < 0);
    if (!needsCookie || body.consent.ad_storage === "denied" || !w.fetch) { beacon(body); return; }
    held = [];
    setTimeout(flush, 1500);
    if (w.addEventListener) w.addEventListener("pagehide", flush);
    var retry = function () { if (held) held.unshift(body); flush(); };
    try {
      post(endpoint || (endpoint = findEndpoint()), JSON.stringify(body)).then(flush, retry);
    } catch (e) { retry(); }
  }

  function emit(type, name, params) {
    params = params || {};
    var id = type === "purchase" ? purchaseId(params.reference) : randomId();
    var c = currentConsent();
    var pixel = callPixel(name, params, id, c); // fired with this id (reports)
    send({
      v: 1, type: type, event_name: name, event_id: id,
      url: w.location.href, referrer: d.referrer || null,
      params: params, cookies: cookies(), fbclid: queryParam("fbclid"),
      consent: c, pixel: pixel
    });
    return id;
  }

  var api = safe(function (command, a, b) {
    if (command === "consent") {
      for (var i = 0; i < SIGNALS.length; i++) {
        var v = a && a[SIGNALS[i]];
        if (v === true || v === "granted") consent[SIGNALS[i]] = "granted";
        else if (v === false || v === "denied") consent[SIGNALS[i]] = "denied";
      }
      return;
    }
    if (command === "purchase") {
      if (!a || a.reference === undefined || a.reference === null || a.reference === "") return;
      return emit("purchase", "Purchase", a);
    }
    if (command === "track" && typeof a === "string" && a) {
      var name = standardName(a);
      // A purchase has a business id; route it so pixel and server agree on it.
      if (name === "Purchase" && b && b.reference !== undefined) return emit("purchase", name, b);
      if (name === "Purchase") return;
      return emit("track", name, b);
    }
    if (command === "config" && a && a.endpoint) endpoint = String(a.endpoint);
  });

  var queued = (w.trackside && w.trackside.q) || [];
  if (w.trackside && w.trackside.loaded) return; // loaded twice: keep the first
  w.trackside = api;
  w.trackside.loaded = true;
  for (var i = 0; i < queued.length; i++) api.apply(null, queued[i]);
})(window, document);
