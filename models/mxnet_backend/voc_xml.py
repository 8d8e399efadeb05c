"""Reading one Pascal VOC annotation file (``Annotations/<id>.xml``). stdlib only.

What is read: ``size/width``, ``size/height`` (optional: the image's own size is what boxes are
checked against; a declared size must agree with it), and for each ``object``: ``name``,
``bndbox`` ``xmin ymin xmax ymax`` in pixels, and ``difficult`` (0 or 1, default 0). Anything
else (``pose``, ``truncated``, ``segmented``, ``part``) is ignored.

VOC files never carry a DTD, so one that declares a DOCTYPE or an entity is refused before it is
parsed: no entity expansion (billion laughs) and no external entity can reach the parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

CORNERS = ("xmin", "ymin", "xmax", "ymax")
_DECLARATION = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True)
class VocObject:
    number: int  # 1-based position among the file's objects
    name: str
    corners: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in pixels
    difficult: int


@dataclass
class VocAnnotation:
    size: tuple[int, int] | None  # (width, height) as declared, if declared
    objects: list[VocObject] = field(default_factory=list)


def _text(node: ET.Element | None) -> str | None:
    return None if node is None or node.text is None else node.text.strip()


def _number(node: ET.Element, tag: str) -> float | None:
    try:
        value = float(_text(node.find(tag)) or "")
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _declared_size(root: ET.Element) -> tuple[tuple[int, int] | None, list[str]]:
    size = root.find("size")
    if size is None:
        return None, []
    width, height = _number(size, "width"), _number(size, "height")
    if width is None or height is None or width < 1 or height < 1 or width % 1 or height % 1:
        return None, [f"<size> must hold positive whole <width> and <height>, got {_text(size.find('width'))!r} "
                      f"and {_text(size.find('height'))!r}"]
    return (int(width), int(height)), []


def _object(node: ET.Element, number: int) -> tuple[VocObject | None, list[str]]:
    where = f"object {number}"
    name = _text(node.find("name")) or ""
    problems = [] if name else [f"{where}: <name> is missing or empty"]
    where += f" ({name})" if name else ""
    box = node.find("bndbox")
    corners = [None if box is None else _number(box, tag) for tag in CORNERS]
    missing = [tag for tag, v in zip(CORNERS, corners) if v is None]
    if box is None:
        problems.append(f"{where}: <bndbox> is missing")
    elif missing:
        problems.append(f"{where}: <bndbox> {', '.join(missing)} missing or not a number")
    difficult = _text(node.find("difficult")) or "0"
    if difficult not in ("0", "1"):
        problems.append(f"{where}: <difficult> must be 0 or 1, got {difficult!r}")
    if problems:
        return None, problems
    return VocObject(number, name, tuple(corners), int(difficult)), []


def parse_voc_xml(blob: bytes) -> tuple[VocAnnotation | None, list[str]]:
    """The annotation and one problem per bad element (the caller adds the file's name)."""
    if _DECLARATION.search(blob):
        return None, ["declares a DOCTYPE or an entity; VOC annotations never do, so it is not read"]
    try:
        root = ET.fromstring(blob)
    except ET.ParseError as exc:
        return None, [f"not well-formed XML ({exc})"]
    if root.tag != "annotation":
        return None, [f"the root element is <{root.tag}>, not <annotation>"]
    size, problems = _declared_size(root)
    annotation = VocAnnotation(size)
    for number, node in enumerate(root.findall("object"), start=1):
        obj, found = _object(node, number)
        problems += found
        if obj is not None:
            annotation.objects.append(obj)
    return annotation, problems
