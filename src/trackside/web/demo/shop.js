/* Demo shop glue: the consent banner, the toggles, and the cards the gateway's story fills. */
(function (w, d) {
  function cookie(name) {
    var m = new RegExp("(?:^|; )" + name + "=([^;]*)").exec(d.cookie);
    return m ? decodeURIComponent(m[1]) : null;
  }
  function setCookie(name, value) {
    d.cookie = name + "=" + value + "; path=/; max-age=31536000; samesite=lax";
  }
  function signals(value) {
    return {ad_storage: value, analytics_storage: value, ad_user_data: value,
            ad_personalization: value};
  }
  function setConsent(value) {
    setCookie("demo_consent", value);
    trackside("consent", signals(value));
    d.getElementById("consent-banner").hidden = true;
    d.getElementById("refuse-cookies").checked = value === "denied";
    showEffect();
  }
  // Which sentence under the toggles is true now.
  function showEffect() {
    var when = d.getElementById("refuse-cookies").checked ? "refused"
      : d.getElementById("block-pixel").checked ? "blocked" : "normal";
    var effects = d.querySelectorAll("#toggles .effect");
    for (var i = 0; i < effects.length; i++) effects[i].hidden = effects[i].getAttribute("data-when") !== when;
  }
  function element(tag, className, text) {
    var e = d.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var joinParams = {};
  var shop = w.demoShop = {
    // The cart and customer ids with the tokens the shop rendered for them (base.html).
    setJoin: function (params) { joinParams = params || {}; },
    join: function (params) {
      var out = {}, k;
      for (k in params || {}) out[k] = params[k];
      for (k in joinParams) out[k] = joinParams[k];
      return out;
    },
    page: function (name) {
      var c = cookie("demo_consent");
      if (c) trackside("consent", signals(c));
      trackside("track", name, shop.join({}));
    },
    show: function (story) {
      var cards = d.getElementById("cards");
      cards.innerHTML = "";
      story.cards.forEach(function (card) {
        var box = element("section", "card" + (card.happened ? "" : " empty"));
        box.id = "card-" + card.key;
        box.appendChild(element("h3", "", card.title));
        var list = element("ul");
        card.lines.forEach(function (line) { list.appendChild(element("li", line.state, line.text)); });
        box.appendChild(list);
        if (card.event_id) {
          var id = element("p", "id", "event id ");
          id.appendChild(element("code", "", card.event_id));
          box.appendChild(id);
        }
        cards.appendChild(box);
      });
      var numbers = d.getElementById("teardown-numbers");
      numbers.innerHTML = "";
      story.teardown.rows.forEach(function (row) {
        var item = element("div", "number");
        item.id = "teardown-" + row.key;
        item.appendChild(element("dt", "", row.label));
        var value = row.key === "pixel_missed" && story.teardown.missed_share
          ? row.count + " (" + story.teardown.missed_share + ")" : String(row.count);
        item.appendChild(element("dd", "", value));
        numbers.appendChild(item);
      });
    },
    refresh: function () {
      return fetch("/demo/api/story", {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (story) { if (story) shop.show(story); })["catch"](function () {});
    }
  };
  d.addEventListener("DOMContentLoaded", function () {
    if (!cookie("demo_consent")) d.getElementById("consent-banner").hidden = false;
    d.getElementById("consent-accept").onclick = function () { setConsent("granted"); };
    d.getElementById("consent-deny").onclick = function () { setConsent("denied"); };
    // A toggle starts a new shopper (new cart and customer ids), so the states do not mix:
    // the gateway joins a purchase with its cart's and customer's earlier pages, and keeps
    // the strictest consent any of them carried. Then a page loads, so the change shows at
    // once; not the confirmation page again: it would send its purchase once more, now
    // without the pixel (or the consent), and change what the teardown says about it.
    function again() {
      d.cookie = "demo_cart=; path=/; max-age=0";
      d.cookie = "demo_customer=; path=/; max-age=0";
      if (/^\/demo\/order\//.test(location.pathname)) location.href = "/";
      else location.reload();
    }
    d.getElementById("block-pixel").onchange = function (e) {
      setCookie("demo_block_pixel", e.target.checked ? "1" : "0");
      again();
    };
    d.getElementById("refuse-cookies").onchange = function (e) {
      setConsent(e.target.checked ? "denied" : "granted");
      again();
    };
    showEffect();
    shop.refresh();
    setInterval(shop.refresh, 1500);
  });
})(window, document);
