// The link form's live preview: the sentence 「D氏のキャッシュレス決済がC氏のマイナポイントに
// 登録された。」 follows the three selects as they change. Without this script the server
// renders the same sentence after each submission.
(function () {
  "use strict";
  function ready() {
    var form = document.getElementById("link-form");
    var data = document.getElementById("link-sentence-data");
    if (!form || !data) return;
    data = JSON.parse(data.textContent);
    var source = form.elements.source;
    var target = form.elements.target;
    var kind = form.elements.data_kind;
    var text = document.getElementById("link-preview-text");
    var record = document.getElementById("link-record");
    // The option reads "D氏 鈴木 次郎": the sentence names the person by the label only.
    function label(select) {
      return data.labels[select.value] || "…";
    }
    function update() {
      var sentence = data.sentences[kind.value];
      record.textContent = data.records[kind.value] || "";
      if (!sentence || (!source.value && !target.value)) {
        text.textContent = data.empty;
        return;
      }
      text.textContent = sentence.replace("{source}", label(source)).replace("{target}", label(target));
    }
    [source, target, kind].forEach(function (select) {
      select.addEventListener("change", update);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
