/* trackside PrestaShop module: the banner's consent → trackside('consent', …), then the page's
 * events. Inlined by trackside_header_snippet() (lib/trackside_functions.php) before t.js.
 * Never throws into the page. Sources, each mapped to Consent Mode v2's four signals:
 * - Google Consent Mode v2: gtag('consent', 'default' | 'update', {...}) pushes onto
 *   window.dataLayer (https://developers.google.com/tag-platform/security/guides/consent);
 *   entries already there are read, later pushes are seen (also after gtag.js replaces push).
 *   A default scoped to a `region` is skipped: the page cannot know the shopper's region.
 * - Cookiebot: the Cookiebot object's consent.marketing / consent.statistics and its
 *   CookiebotOnConsentReady / OnAccept / OnDecline events (https://www.cookiebot.com/en/developer/).
 * - OneTrust: OnetrustActiveGroups and the OneTrustGroupsUpdated event
 *   (https://developer.onetrust.com/onetrust/docs/javascript-events-guide).
 * - Any banner: document.dispatchEvent(new CustomEvent('trackside:consent', {detail: {...}})).
 * The page's events wait for a final answer (an update, a CMP's reading) at most the module's
 * wait (consent_wait_ms) or a gtag default's wait_for_update, whichever is longer. */
(function (w, d, config) {
  "use strict";
  var SIGNALS = ["ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"];
  var waiting = [];
  var ready = false;
  var started = new Date().getTime();
  var deadline = 0;
  var timer = null;

  function waitUntil(at) {
    if (ready || at <= deadline) return;
    deadline = at;
    if (timer) clearTimeout(timer);
    timer = setTimeout(release, Math.max(0, at - new Date().getTime()));
  }

  function guarded(fn) {
    return function () { try { return fn.apply(this, arguments); } catch (e) { /* never break the page */ } };
  }

  function send(command, a, b) {
    if (typeof w.trackside === "function") w.trackside(command, a, b);
  }

  function release() {
    if (ready) return;
    ready = true;
    var q = waiting;
    waiting = [];
    for (var i = 0; i < q.length; i++) {
      try { q[i](); } catch (e) { /* one bad call never stops the others */ }
    }
  }

  // state: signal → "granted" / "denied" / true / false; final: a shopper's answer, not a default.
  function forward(state, final) {
    var out = {}, any = false;
    for (var i = 0; i < SIGNALS.length; i++) {
      var v = state && state[SIGNALS[i]];
      if (v === true || v === "granted") { out[SIGNALS[i]] = "granted"; any = true; }
      else if (v === false || v === "denied") { out[SIGNALS[i]] = "denied"; any = true; }
    }
    if (any) send("consent", out);
    if (any && final) release();
  }

  // Category booleans → signals with the module's mapping (trackside_consent_mapping()).
  function fromCategories(mapping, granted) {
    var state = {};
    for (var category in mapping) {
      if (!mapping.hasOwnProperty(category)) continue;
      var signals = mapping[category];
      for (var i = 0; i < signals.length; i++) {
        // A signal two categories feed is granted only when both are.
        if (state[signals[i]] === "denied") continue;
        state[signals[i]] = granted(category) ? "granted" : "denied";
      }
    }
    return state;
  }

  // -- Google Consent Mode v2 ---------------------------------------------------------------
  function readGtag(entry) {
    if (!entry || typeof entry !== "object" || entry[0] !== "consent") return;
    var state = entry[2];
    if (!state || typeof state !== "object") return;
    if (entry[1] === "default" && !state.region) {
      forward(state, false);
      // Google's own rule: tags wait wait_for_update ms for the banner's update.
      if (typeof state.wait_for_update === "number") waitUntil(started + state.wait_for_update);
    }
    else if (entry[1] === "update") forward(state, true);
  }

  function watchDataLayer() {
    var dl = w.dataLayer = w.dataLayer || [];
    if (!dl || typeof dl.length !== "number") return;  // not Google's array: left alone
    for (var i = 0; i < dl.length; i++) {
      try { readGtag(dl[i]); } catch (e) { /* an odd entry: the next one */ }
    }
    var inner = dl.push;
    var wrapped = function () {
      for (var j = 0; j < arguments.length; j++) {
        try { readGtag(arguments[j]); } catch (e) { /* never break the page's dataLayer */ }
      }
      return (typeof inner === "function" ? inner : Array.prototype.push).apply(dl, arguments);
    };
    // gtag.js and GTM assign their own dataLayer.push: keep ours in front of theirs.
    try {
      Object.defineProperty(dl, "push", {
        configurable: true,
        get: function () { return wrapped; },
        set: function (fn) { inner = fn; }
      });
    } catch (e) { dl.push = wrapped; }
  }

  // -- Cookiebot -----------------------------------------------------------------------------
  function readCookiebot() {
    var cb = w.Cookiebot;
    if (!cb || !cb.consent || cb.hasResponse === false) return;
    var consent = cb.consent;
    forward(fromCategories(config.mapping.cookiebot, function (c) { return !!consent[c]; }),
            true);
  }

  // -- OneTrust ------------------------------------------------------------------------------
  function readOneTrust(groups) {
    if (typeof groups !== "string" && !(groups && groups.length !== undefined)) return;
    var list = typeof groups === "string" ? groups.split(",") : groups;
    forward(fromCategories(config.mapping.onetrust, function (c) {
      for (var i = 0; i < list.length; i++) if (String(list[i]).trim() === c) return true;
      return false;
    }), true);
  }

  // Each source on its own: one that throws (a page's odd dataLayer) leaves the others.
  var starts = [watchDataLayer, readCookiebot, function () {
    if (w.OnetrustActiveGroups) readOneTrust(w.OnetrustActiveGroups);
  }];
  for (var s = 0; s < starts.length; s++) {
    try { starts[s](); } catch (e) { /* never break the page */ }
  }
  if (w.addEventListener) {
    var cookiebotEvents = ["CookiebotOnConsentReady", "CookiebotOnAccept", "CookiebotOnDecline"];
    for (var i = 0; i < cookiebotEvents.length; i++) w.addEventListener(cookiebotEvents[i], guarded(readCookiebot));
    w.addEventListener("OneTrustGroupsUpdated", guarded(function (e) { readOneTrust(e && e.detail); }));
  }
  if (d.addEventListener) {
    d.addEventListener("trackside:consent", guarded(function (e) { forward(e && e.detail, true); }));
  }
  waitUntil(started + (config.wait || 0));
  if (!timer && !ready) release();

  // The page's events, sent once consent is final (or after the wait).
  w.tracksideWhenConsented = function (fn) {
    if (ready) fn(); else waiting.push(fn);
  };
})(window, document, window.TRACKSIDE_CONSENT_CONFIG || {mapping: {}, wait: 0});
