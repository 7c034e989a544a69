// Layout helpers that only a script can do; every page works without them.
(function () {
  "use strict";

  // The site menu folds behind a button on a phone (the CSS decides when:
  // .site-header.foldable). Without this script the button stays hidden and the menu open.
  function foldMenu() {
    var header = document.querySelector(".site-header");
    var button = header && header.querySelector(".menu-toggle");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) {
      return;
    }
    header.classList.add("foldable");
    button.hidden = false;
    function setOpen(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    }
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        button.focus();
      }
    });
  }

  // A table wider than the screen scrolls inside its own box (.table-wrap), never the
  // page; a box that scrolls can be reached and scrolled by keyboard, and is named by its
  // table's caption or its section's heading.
  function labelOf(wrap) {
    var caption = wrap.querySelector("caption");
    var section = wrap.closest("section");
    var heading = section && section.querySelector("h2, h3");
    var text = ((caption || heading || {}).textContent || "").replace(/\s+/g, " ").trim();
    // Named apart from its section (経過の表, not 経過), so that the two regions differ.
    var japanese = (document.documentElement.lang || "ja").indexOf("ja") === 0;
    return japanese ? text + "の表" : "Table: " + text;
  }

  function scrollableTables() {
    var wraps = document.querySelectorAll(".table-wrap");
    Array.prototype.forEach.call(wraps, function (wrap) {
      if (wrap.dataset.fixed === undefined) {
        wrap.dataset.fixed = wrap.hasAttribute("tabindex") ? "yes" : "";
      }
      if (wrap.dataset.fixed) {
        return; // the template made it focusable itself
      }
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        var label = labelOf(wrap);
        if (label) {
          wrap.setAttribute("aria-label", label);
        }
      } else {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }

  function start() {
    foldMenu();
    scrollableTables();
    var pending = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(scrollableTables, 150);
    });
    // A closed <details> holds tables of no width until it is opened.
    document.addEventListener("toggle", scrollableTables, true);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
