// Starts Swagger UI on /docs. A file rather than the inline script FastAPI writes: the page's CSP allows
// scripts from our origin only. The settings come from this tag's data-config (JSON, built by the server).
(function () {
  "use strict";
  var config = JSON.parse(document.currentScript.dataset.config);
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  window.ui = SwaggerUIBundle(config);
})();
