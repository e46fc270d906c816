/* nkru-monitor analyst view: filters, live alerts (server-sent events) and keyboard navigation.
   The same file runs in the served pages and, inlined, in the static report (no live part there). */
(function () {
  "use strict";

  function tokens(value) { return (value || "").split(/\s+/).filter(Boolean); }

  /* ---------- filters: a form[data-filter-target] hides the target's [data-filter-item]s that do not match */
  function setupFilter(form) {
    var target = document.getElementById(form.getAttribute("data-filter-target"));
    if (!target) { return null; }
    var selects = Array.prototype.slice.call(form.querySelectorAll("select"));
    var counter = form.querySelector("[data-filter-count]");
    var sync = form.hasAttribute("data-sync-url") && /^https?:$/.test(location.protocol);

    function matches(item) {
      return selects.every(function (s) {
        return !s.value || tokens(item.getAttribute("data-" + s.name)).indexOf(s.value) !== -1;
      });
    }
    function apply() {
      var items = target.querySelectorAll("[data-filter-item]");
      var shown = 0;
      Array.prototype.forEach.call(items, function (item) {
        var ok = matches(item);
        item.hidden = !ok;
        if (ok) { shown += 1; }
      });
      if (counter) { counter.textContent = "Showing " + shown + " of " + items.length; }
      if (sync) {
        var params = new URLSearchParams(location.search);
        selects.forEach(function (s) { if (s.value) { params.set(s.name, s.value); } else { params.delete(s.name); } });
        var query = params.toString();
        history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
      }
    }
    function ensureOption(select, value) {
      if (!value || select.querySelector('option[value="' + CSS.escape(value) + '"]')) { return; }
      var option = document.createElement("option");
      option.value = value;
      option.textContent = value;
      select.appendChild(option);
    }
    if (sync) {
      var params = new URLSearchParams(location.search);
      selects.forEach(function (s) { var v = params.get(s.name); if (v) { ensureOption(s, v); s.value = v; } });
    }
    selects.forEach(function (s) { s.addEventListener("change", apply); });
    form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });
    form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
    apply();
    return {
      apply: apply,
      learn: function (item) {  // a live item may name an actor the menu does not list yet
        selects.forEach(function (s) { tokens(item.getAttribute("data-" + s.name)).forEach(function (v) { ensureOption(s, v); }); });
      }
    };
  }

  var filters = {};
  Array.prototype.forEach.call(document.querySelectorAll("form[data-filter-target]"), function (form) {
    var f = setupFilter(form);
    if (f) { filters[form.getAttribute("data-filter-target")] = f; }
  });

  /* ---------- notices */
  var notice = document.getElementById("notice");
  function notify(text, href) {
    if (!notice) { return; }
    notice.textContent = text + " ";
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = "Reload";
      notice.appendChild(a);
    }
    notice.hidden = false;
  }

  /* ---------- live updates */
  function insertAlert(data) {
    var list = document.getElementById("alert-list");
    if (!list) { return; }
    var template = document.createElement("template");
    template.innerHTML = data.html.trim();
    var item = template.content.firstElementChild;
    if (!item) { return; }
    var old = list.querySelector('[data-alert-id="' + CSS.escape(item.getAttribute("data-alert-id")) + '"]');
    if (old) { old.remove(); }
    var time = item.getAttribute("data-time") || "";
    var before = Array.prototype.find.call(list.children, function (li) { return (li.getAttribute("data-time") || "") < time; });
    list.insertBefore(item, before || null);
    item.classList.add("fresh");
    var empty = document.getElementById("alerts-empty");
    if (empty) { empty.hidden = true; }
    var filter = filters["alert-list"];
    if (filter) { filter.learn(item); filter.apply(); }
    var live = document.getElementById("live-region");
    if (live && !item.hidden) { live.textContent = "New " + item.getAttribute("data-severity") + " alert: " + (data.summary || ""); }
  }

  var changedEvents = {};
  function eventChanged(data) {
    var body = document.body;
    var page = body.getAttribute("data-page");
    if (page === "event") {
      if (data.event_id === body.getAttribute("data-event-id") &&
          data.revision > Number(body.getAttribute("data-revision"))) {
        notify("Revision " + data.revision + " of this event has arrived.", location.href);
      }
    } else if (page === "events" || page === "map") {
      changedEvents[data.event_id] = true;
      var n = Object.keys(changedEvents).length;
      notify(n + (n === 1 ? " event has" : " events have") + " new revisions since this page was loaded.", location.href);
    }
  }

  function connect() {
    var stream = document.body.getAttribute("data-stream");
    if (!stream || !window.EventSource) { return; }
    var source = new EventSource(stream + "?after=" + encodeURIComponent(document.body.getAttribute("data-seq") || "0"));
    var status = document.getElementById("status-text");
    source.addEventListener("alert", function (e) { insertAlert(JSON.parse(e.data)); });
    source.addEventListener("event", function (e) { eventChanged(JSON.parse(e.data)); });
    source.addEventListener("status", function (e) { if (status) { status.textContent = JSON.parse(e.data).text; } });
    source.addEventListener("reload", function () { notify("Too many changes to follow live.", location.href); });
    source.addEventListener("open", function () { document.body.setAttribute("data-live", "open"); });
    source.addEventListener("error", function () { document.body.setAttribute("data-live", "reconnecting"); });
  }

  /* ---------- keyboard: j/k move between items, Enter opens one, / jumps to the filters */
  function navItems() {
    return Array.prototype.filter.call(document.querySelectorAll("main [data-nav-item]"), function (el) {
      return !el.hidden && el.offsetParent !== null;
    });
  }
  function move(step) {
    var items = navItems();
    if (!items.length) { return; }
    var current = document.activeElement && document.activeElement.closest("[data-nav-item]");
    var index = items.indexOf(current);
    var next = index === -1 ? (step > 0 ? 0 : items.length - 1) : Math.min(Math.max(index + step, 0), items.length - 1);
    items[next].focus();
    items[next].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.defaultPrevented) { return; }
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName))) { return; }
    if (e.key === "j" || e.key === "k") {
      move(e.key === "j" ? 1 : -1);
      e.preventDefault();
    } else if (e.key === "Enter" && t && t.matches && t.matches("[data-nav-item]")) {
      var link = t.querySelector("a[data-primary]");
      if (link) { link.click(); e.preventDefault(); }
    } else if (e.key === "/") {
      var first = document.querySelector("main form[data-filter-target] select");
      if (first) { first.focus(); e.preventDefault(); }
    }
  });

  var region = document.createElement("div");
  region.id = "live-region";
  region.className = "visually-hidden";
  region.setAttribute("aria-live", "polite");
  document.body.appendChild(region);
  connect();
}());
