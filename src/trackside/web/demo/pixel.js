/* Demo stand-in for the Meta Pixel: records every fbq() call for this tab (sessionStorage),
 * and posts it to the demo's /demo/pixel, as the real pixel posts to Meta, so the cards can
 * say which events the pixel saw. */
(function (w) {
  var KEY = "demo_fbq";
  function load() { try { return JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch (e) { return []; } }
  w.fbq = function (command, name, params, options) {
    var calls = load();
    var eventID = options && options.eventID;
    calls.push({command: command, event: name, eventID: eventID, params: params});
    sessionStorage.setItem(KEY, JSON.stringify(calls));
    if (w.fetch && name && eventID) {
      w.fetch("/demo/pixel", {method: "POST", keepalive: true, credentials: "same-origin",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({event: String(name), eventID: String(eventID)})})["catch"](function () {});
    }
  };
  w.fbq.calls = load;
})(window);
