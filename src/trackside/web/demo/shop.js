/* Demo shop glue: consent banner, the on-screen pixel list, the gateway trace table. */
(function (w, d) {
  function cookie(name) {
    var m = new RegExp("(?:^|; )" + name + "=([^;]*)").exec(d.cookie);
    return m ? decodeURIComponent(m[1]) : null;
  }
  function setConsent(value) {
    d.cookie = "demo_consent=" + value + "; path=/; max-age=31536000; samesite=lax";
    trackside("consent", {ad_storage: value, analytics_storage: value, ad_user_data: value,
                          ad_personalization: value});
    d.getElementById("consent-banner").hidden = true;
  }
  var watched = [];
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
      if (c) trackside("consent", {ad_storage: c, analytics_storage: c, ad_user_data: c,
                                   ad_personalization: c});
      trackside("track", name, shop.join({}));
    },
    watch: function (id) { watched.push(id); },
    render: function () {
      var list = d.getElementById("pixel-ids");
      if (!list || !w.fbq || !w.fbq.calls) return;
      list.innerHTML = "";
      w.fbq.calls().forEach(function (c) {
        var li = d.createElement("li");
        li.textContent = c.event + " eventID=" + c.eventID;
        list.appendChild(li);
      });
    },
    trace: function () {
      var ids = watched.slice();
      if (w.fbq && w.fbq.calls) w.fbq.calls().forEach(function (c) { ids.push(c.eventID); });
      if (!ids.length) return;
      fetch("/demo/api/trace?ids=" + encodeURIComponent(ids.slice(-12).join(",")))
        .then(function (r) { return r.json(); })
        .then(function (rows) {
          var table = d.getElementById("gateway");
          while (table.rows.length > 1) table.deleteRow(1);
          rows.forEach(function (row) {
            var tr = table.insertRow();
            [row.event_name, row.event_id, row.source, row.outcome].forEach(function (text) {
              tr.insertCell().textContent = text;
            });
          });
        })["catch"](function () {});
    }
  };
  d.addEventListener("DOMContentLoaded", function () {
    if (!cookie("demo_consent")) d.getElementById("consent-banner").hidden = false;
    d.getElementById("consent-accept").onclick = function () { setConsent("granted"); };
    d.getElementById("consent-deny").onclick = function () { setConsent("denied"); };
    shop.render();
    shop.trace();
    setInterval(shop.trace, 1500);
  });
})(window, document);
