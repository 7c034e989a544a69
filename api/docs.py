"""/api/docs/: Swagger UI from this site's own static files (drf-spectacular-sidecar; no CDN
is reachable from a city's network), inside the site's Content-Security-Policy: the page's
script is a file of its own (the split view), and the template has no inline style."""

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView


# Swagger UI draws its icons from data: URIs in its stylesheet; nothing else is widened.
@method_decorator(csp_update({"img-src": ["data:"]}), name="dispatch")
class DocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
