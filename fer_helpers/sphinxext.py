"""Sphinx extension used by the book's build (listed in ``_config.yml``).

- Drops repeated identical ``<script>`` entries: sphinx-thebe registers its inline config
  (``const THEBE_JS_URL = ...``) once per ``env-before-read-docs`` event, which
  jupyter-book fires twice, and a repeated ``const`` is a SyntaxError in the browser.
- Rewrites the pages holding a bibliography, or citing one, on every build:
  sphinxcontrib-bibtex decides which entries a ``{bibliography}`` lists after all pages are
  read, but tells Sphinx nothing changed, so an incremental build kept a references page
  without the works newly cited in a chapter.
- Points the ipywidgets HTML manager at its fonts in ``_static/html-manager/`` (vendored
  at build time) instead of a page-relative ``@jupyter-widgets/...`` path that does not
  exist offline.
"""

from __future__ import annotations

# The widgets bundles derive their asset folder from their AMD module URIs (the HTML manager's
# and the controls'); a RequireJS config set before require.js loads maps them all to the
# vendored fonts in _static/html-manager/.
ASSETS_JS = (
    "(function () {"
    " var s = new URL((document.documentElement.dataset.content_root || '') + '_static/',"
    " document.baseURI).href;"
    " window.__jupyter_widgets_assets_path__ = s + 'html-manager/';"
    " window.require = {paths: {'@jupyter-widgets/html-manager/dist': s + 'html-manager',"
    " '@jupyter-widgets': s + 'html-manager'}};"
    "})();")


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, keep = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        # the same inline script may be registered with filename None or ''
        key = (getattr(js, "filename", None) or "", tuple(sorted(attrs.items())))
        if key not in seen:
            seen.add(key)
            keep.append(js)
    scripts[:] = keep


def _bibliography_pages(app, env):
    dom = env.domains.get("cite") if hasattr(env.domains, "get") else None
    if dom is None:
        return []
    pages = {key.docname for key in getattr(dom, "bibliographies", {})}
    pages |= {ref.docname for ref in getattr(dom, "citation_refs", [])}
    return sorted(pages & set(env.found_docs))


def setup(app):
    app.add_js_file(None, body=ASSETS_JS, priority=150)
    app.connect("env-updated", _bibliography_pages)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
