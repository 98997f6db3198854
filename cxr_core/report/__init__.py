"""Run reports: Markdown, HTML, figures, tables, published comparisons, prediction files."""
