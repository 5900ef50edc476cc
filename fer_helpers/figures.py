"""Numbered, captioned figures in the book (myst-nb ``glue`` + ``{glue:figure}``).

A chapter shows a main figure like this::

    fig = px.imshow(...)
    glue("fig-01-au-by-emotion", fig)        # code cell tagged remove-output

and, in the markdown cell after it::

    ```{glue:figure} fig-01-au-by-emotion
    :name: fig-01-au-by-emotion

    Caption ... Data: {glue:text}`ck-source`.
    ```

Sphinx numbers the figure ("Fig. N") and ``{numref}`` can point at it. The code cell keeps its
output, so JupyterLab shows the figure where it was made; the book hides that output
(``remove-output``) and shows the captioned copy.
"""

from __future__ import annotations


class _Bundle:
    """An object IPython displays as a given MIME bundle."""

    def __init__(self, bundle: dict):
        self.bundle = bundle

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.bundle


def mimebundle(fig) -> dict:
    """The MIME bundle a plotly figure is displayed with under the default renderer (the
    book's, see :func:`fer_helpers.book.setup_notebook`): plotly JSON for JupyterLab and an
    HTML div for the static book."""
    import plotly.io as pio

    renderer = pio.renderers[pio.renderers.default] \
        if pio.renderers.default in pio.renderers else None
    if hasattr(renderer, "to_mimebundle"):
        bundle = dict(renderer.to_mimebundle(fig.to_dict()))
    else:
        bundle = {"text/html": pio.to_html(fig, include_plotlyjs=False, full_html=False)}
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else "figure"
    bundle.setdefault("text/plain", f"<plotly figure: {title}>")
    return bundle


def glue(name: str, obj, display: bool = True) -> None:
    """``myst_nb.glue`` that also works for plotly figures.

    myst-nb formats the glued object with IPython; a plotly figure displays itself instead
    (``_ipython_display_``) and hands IPython an empty bundle, so the glued record would be
    empty and ``{glue:figure}`` would paste nothing. Figures are glued as their MIME bundle
    instead; anything else goes to ``myst_nb.glue`` as it is.
    """
    from myst_nb import glue as nb_glue

    if hasattr(obj, "to_plotly_json") and hasattr(obj, "to_dict"):
        obj = _Bundle(mimebundle(obj))
    nb_glue(name, obj, display=display)
