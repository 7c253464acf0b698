(function () {
  "use strict";
  var entries = JSON.parse(document.getElementById("search-index").textContent);
  function words(text) { return text.toLowerCase().replace(/[^a-z0-9]+/g, " ").trim(); }
  for (var k = 0; k < entries.length; k++) { entries[k][3] = words(entries[k][0] + " " + entries[k][3]); }
  var form = document.getElementById("search-form");
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  function add(text, href, kind) {
    var item = document.createElement("li");
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = text;
      item.appendChild(link);
      item.appendChild(document.createTextNode(" (" + kind + ")"));
    } else {
      item.textContent = text;
    }
    list.appendChild(item);
  }
  function show() {
    var query = words(input.value), shown = 0;
    list.textContent = "";
    if (!query) { return; }
    var terms = query.split(" ");
    for (var i = 0; i < entries.length && shown < 25; i++) {
      var entry = entries[i], found = true;
      for (var j = 0; j < terms.length && found; j++) { found = entry[3].indexOf(terms[j]) >= 0; }
      if (found) {
        add(entry[0], entry[1] === "state" || entry[1] === "county" ? entry[2] : "agencies/" + entry[2] + ".html", entry[1]);
        shown++;
      }
    }
    if (!shown) { add("Nothing found.", null, null); }
  }
  form.hidden = false;
  input.addEventListener("input", show);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var first = list.querySelector("a");
    if (first) { window.location.href = first.href; }
  });
}());
