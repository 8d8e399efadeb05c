"""Importing a Pascal VOC folder from an archive: ``Annotations/<id>.xml`` and
``JPEGImages/<id>.jpg`` (or ``.jpeg``/``.png``), paired by id, with optional
``ImageSets/Main/<set>.txt`` lists of ids (one a line; VOC's per-class lists, two columns, are
skipped). The folder holding them may sit under wrapping folders (``VOCdevkit/VOC2007/``).

Classes: the names found, sorted, unless a names file (``classes.txt``, ``synset.txt`` or
``labels.txt``, one name a line) gives them; then a name not in it is a problem. Names that
differ only by case or surrounding spaces are a problem either way.

Boxes are pixel edges: 0 ≤ xmin < xmax ≤ width and 0 ≤ ymin < ymax ≤ height of the decoded
image; stored normalised (xmin / width, …). VOC's 1-based pixel numbers are taken as they are
(no shift of one pixel), so files written 0-based or 1-based both pass.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict

import numpy as np

from models.mxnet_backend.archive import ArchiveContents, ImportLimits
from models.mxnet_backend.decode import ImageProblem, decode_image
from models.mxnet_backend.detection_assemble import DetectionImport, ReadImage, assemble
from models.mxnet_backend.import_folders import IMAGE_EXTENSIONS, raise_if
from models.mxnet_backend.voc_xml import VocAnnotation, VocObject, parse_voc_xml

ANNOTATIONS, IMAGES, IMAGE_SETS = "Annotations", "JPEGImages", "ImageSets/Main"


def voc_root(contents: ArchiveContents) -> str | None:
    """The folder (with a trailing "/", "" for the archive root) holding Annotations/ and
    JPEGImages/, or None. Raises DatasetImportError when several folders do."""
    roots = sorted({posixpath.dirname(d) for d in contents.dirs if posixpath.basename(d) == ANNOTATIONS}
                   & {posixpath.dirname(d) for d in contents.dirs if posixpath.basename(d) == IMAGES})
    if len(roots) > 1:
        raise_if([f"the archive holds {len(roots)} VOC folders ({', '.join(r or '.' for r in roots)}); upload one"])
    return (roots[0] + "/" if roots[0] else "") if roots else None


def _members(contents: ArchiveContents, folder: str, extensions: tuple[str, ...]) -> tuple[dict, list[str]]:
    """id → member name of the files directly in ``folder``, and problems for the others."""
    found, problems = {}, []
    for name in sorted(n for n in contents.files if n.startswith(folder)):
        rel = name[len(folder):]
        stem, ext = posixpath.splitext(rel)
        if "/" in rel or ext.lower() not in extensions:
            problems.append(f"{name}: not a {'/'.join(extensions)} file directly in {folder}")
        elif stem in found:
            problems.append(f"{name}: a second file for id {stem!r} (the first is {found[stem]})")
        else:
            found[stem] = name
    return found, problems


def _pairing_problems(xmls: dict, images: dict, root: str) -> list[str]:
    problems = [f"{xmls[i]}: no image for it in {root}{IMAGES}/" for i in sorted(set(xmls) - set(images))]
    problems += [f"{images[i]}: no annotation {root}{ANNOTATIONS}/{i}.xml" for i in sorted(set(images) - set(xmls))]
    return problems


def _box_problems(obj: VocObject, width: int, height: int) -> list[str]:
    x0, y0, x1, y1 = obj.corners
    problems = []
    if not x0 < x1:
        problems.append(f"xmin {x0:g} is not less than xmax {x1:g}")
    if not y0 < y1:
        problems.append(f"ymin {y0:g} is not less than ymax {y1:g}")
    outside = [f"{n} {v:g}" for n, v, top in (("xmin", x0, width), ("ymin", y0, height),
                                                ("xmax", x1, width), ("ymax", y1, height)) if not 0 <= v <= top]
    if outside:
        problems.append(f"{', '.join(outside)} outside the {width}×{height} image")
    return problems


def _image_problems(xml: str, note: VocAnnotation, pixels: np.ndarray) -> list[str]:
    height, width = pixels.shape[:2]
    problems = []
    if note.size is not None and note.size != (width, height):
        problems.append(f"{xml}: <size> says {note.size[0]}×{note.size[1]}, the image is {width}×{height}")
    for obj in note.objects:
        problems += [f"{xml} object {obj.number} ({obj.name}): {p}" for p in _box_problems(obj, width, height)]
    return problems


def _read_pair(contents, xml: str, image: str, channels, limits) -> tuple[tuple | None, list[str]]:
    note, problems = parse_voc_xml(contents.files[xml])
    problems = [f"{xml} {p}" if p.startswith("object ") else f"{xml}: {p}" for p in problems]
    try:
        pixels = decode_image(contents.files[image], channels, limits)
    except ImageProblem as exc:
        return None, problems + [f"{image}: {exc}"]
    if note is None:
        return None, problems
    problems += _image_problems(xml, note, pixels)
    return (None if problems else (note, pixels)), problems


def _class_names(notes: dict[str, VocAnnotation], given: list[str] | None) -> tuple[tuple[str, ...], list[str]]:
    spelled = defaultdict(set)
    for note in notes.values():
        for obj in note.objects:
            spelled[obj.name.strip().lower()].add(obj.name)
    problems = [f"class names {sorted(v)} differ only by case or spaces; use one spelling"
                for v in spelled.values() if len(v) > 1]
    found = sorted({obj.name for note in notes.values() for obj in note.objects})
    if given is None:
        return tuple(found), problems
    known = set(given)
    for xml, note in sorted(notes.items()):
        problems += [f"{xml} object {o.number}: class {o.name!r} is not among the {len(given)} given class names"
                     for o in note.objects if o.name not in known]
    return tuple(given), problems


def _boxes(note: VocAnnotation, pixels: np.ndarray, index: dict[str, int]) -> np.ndarray:
    height, width = pixels.shape[:2]
    scale = np.array([width, height, width, height], dtype=np.float64)
    rows = [[index[o.name], *(np.asarray(o.corners) / scale), o.difficult] for o in note.objects]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


def _image_sets(contents: ArchiveContents, root: str, ids: list[str]) -> tuple[dict[str, list[int]], list[str]]:
    """Set name → indices into ``ids``, from ImageSets/Main/<set>.txt; ids not annotated are
    problems. Files whose lines have two columns (VOC's per-class lists) are skipped."""
    folder, position = f"{root}{IMAGE_SETS}/", {i: n for n, i in enumerate(ids)}
    sets, problems = {}, []
    for name in sorted(n for n in contents.files if n.startswith(folder) and n.endswith(".txt")):
        lines = [line.split() for line in contents.files[name].decode("utf-8", "replace").splitlines() if line.strip()]
        if any(len(words) != 1 for words in lines):
            continue
        unknown = [w[0] for w in lines if w[0] not in position]
        if unknown:
            problems.append(f"{name}: {len(unknown)} ids have no annotation: {', '.join(unknown[:5])}")
        sets[posixpath.splitext(posixpath.basename(name))[0]] = [position[w[0]] for w in lines if w[0] in position]
    return sets, problems


def import_voc(
    contents: ArchiveContents, root: str, *, class_names: list[str] | None = None, channels: int = 3,
    image_size: tuple[int, int] | None = None, limits: ImportLimits = ImportLimits(),
) -> DetectionImport:
    """The VOC folder at ``root`` (see ``voc_root``) as a DetectionDataset, images in id order.

    Raises DatasetImportError listing every problem, each naming its file and object: stray
    files, an annotation without its image or an image without its annotation, malformed XML,
    missing or non-numeric corners, boxes outside the image or with no area, a declared size
    that is not the image's, unreadable images, class names unknown or spelled two ways, image
    set ids without annotation, no images or no boxes at all, limits passed.
    """
    xmls, problems = _members(contents, f"{root}{ANNOTATIONS}/", (".xml",))
    images, found = _members(contents, f"{root}{IMAGES}/", IMAGE_EXTENSIONS)
    problems += found + _pairing_problems(xmls, images, root)
    if len(xmls) > limits.max_images:
        problems.append(f"{len(xmls)} annotations, more than the limit of {limits.max_images}")
    raise_if(problems)
    ids, notes, pixels = sorted(xmls), {}, {}
    for i in ids:
        pair, found = _read_pair(contents, xmls[i], images[i], channels, limits)
        problems += found
        if pair is not None:
            notes[xmls[i]], pixels[i] = pair
    names, found = _class_names(notes, class_names)
    sets, set_problems = _image_sets(contents, root, ids)
    raise_if(problems + found + set_problems)
    index = {n: k for k, n in enumerate(names)}
    read = [ReadImage(i, pixels[i], _boxes(notes[xmls[i]], pixels[i], index)) for i in ids]
    return assemble(read, names, image_size=image_size, limits=limits, image_sets=sets)
