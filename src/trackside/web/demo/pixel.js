/* Demo stand-in for the Meta Pixel: records every fbq() call for this tab (sessionStorage),
 * so the page can list the eventIDs the pixel would have sent to Meta. */
(function (w) {
  var KEY = "demo_fbq";
  function load() { try { return JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch (e) { return []; } }
  w.fbq = function (command, name, params, options) {
    var calls = load();
    calls.push({command: command, event: name, eventID: options && options.eventID, params: params});
    sessionStorage.setItem(KEY, JSON.stringify(calls));
    if (w.demoShop) w.demoShop.render();
  };
  w.fbq.calls = load;
})(window);
