"""Keep the matplotlib Figures a module saves, to read back what was drawn."""

from __future__ import annotations

from types import ModuleType


def saved_figures(monkeypatch, *modules: ModuleType, write: bool = True) -> list:
    """Patch each module's ``save_figure`` (as it names :func:`cxr_core.report.figures.save_figure`) to
    append the Figure to the returned list, in the order saved; with ``write`` the file is still written
    (by the first module's ``save_figure``)."""
    drawn: list = []
    real = modules[0].save_figure

    def keep(fig, path, **kw):
        drawn.append(fig)
        if write:
            real(fig, path, **kw)

    for module in modules:
        monkeypatch.setattr(module, "save_figure", keep)
    return drawn
