"""``report.html``: the run report as one self-contained file to share (figures embedded).

:func:`markdown_to_html` converts the Markdown subset :mod:`cxr_core.report.markdown` writes (headings,
paragraphs, ``-`` lists, ``>`` quotes, pipe tables, images on their own line, inline ``**bold**``,
```code``` and ``[links](...)``) to HTML; :func:`write_html` writes it beside ``report.md`` with
every PNG it links embedded as a base64 ``data:`` URI, so the file opens anywhere without the run
directory. No third-party Markdown package is needed. This module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from cxr_core.atomic_files import atomic_write_text

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f2f2f2; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.4em 0; }
blockquote { border-left: 4px solid #d9534f; margin: 0.8em 0; padding: 0.2em 1em; background: #fdf3f2; }
code { background: #f4f4f4; padding: 0 3px; border-radius: 3px; }
"""


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', out)


def _cells(line: str) -> list[str]:
    body = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", body)]


def _table(lines: list[str]) -> str:
    header = _cells(lines[0])
    aligns = [c.endswith(":") for c in _cells(lines[1])] if len(lines) > 1 else [False] * len(header)
    rows = [_cells(line) for line in lines[2:]]

    def cell(tag: str, text: str, right: bool) -> str:
        attr = ' class="num"' if right else ""
        return f"<{tag}{attr}>{_inline(text)}</{tag}>"

    out = ["<table>", "<tr>" + "".join(cell("th", h, a) for h, a in zip(header, aligns)) + "</tr>"]
    out += ["<tr>" + "".join(cell("td", c, a) for c, a in zip(row, aligns)) + "</tr>" for row in rows]
    return "\n".join(out + ["</table>"])


def _image_src(src: str, base: Path | None) -> str:
    """A ``data:image/png;base64,...`` URI of a PNG beside ``base``; the link unchanged when the
    file is not there."""
    if base is not None and src.lower().endswith(".png"):
        path = base / src
        if path.is_file():
            return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return src


def markdown_to_html(text: str, *, base: Path | None = None, title: str = "report") -> str:
    """A whole HTML document from report Markdown; images relative to ``base`` are embedded."""
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        image = re.match(r"^!\[([^\]]*)\]\(([^)]+)\)\s*$", line.strip())
        if heading:
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
        elif image:
            alt, src = image.groups()
            blocks.append(f'<figure><img alt="{html.escape(alt)}" src="{_image_src(src, base)}">'
                          f"<figcaption><small>{html.escape(alt)}</small></figcaption></figure>")
            i += 1
        elif line.lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            blocks.append(_table(lines[i:j]))
            i = j
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            blocks.append("<ul>\n" + "\n".join(items) + "\n</ul>")
        elif line.startswith(">"):
            quoted = []
            while i < len(lines) and lines[i].startswith(">"):
                quoted.append(lines[i].lstrip(">").strip())
                i += 1
            blocks.append(f"<blockquote><p>{_inline(' '.join(quoted))}</p></blockquote>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"^(#|\||- |>|!\[)", lines[i].lstrip()):
                para.append(lines[i].strip())
                i += 1
            blocks.append(f"<p>{_inline(' '.join(para))}</p>")
    body = "\n".join(blocks)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def write_html(report_md: str | Path) -> Path:
    """``report.html`` beside ``report_md``, figures embedded; returns its path."""
    report_md = Path(report_md)
    text = report_md.read_text(encoding="utf-8")
    first = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), report_md.stem)
    out = report_md.with_suffix(".html")
    atomic_write_text(out, markdown_to_html(text, base=report_md.parent, title=first))
    return out
