"""`geo` is pure: no module of it opens, saves or loads a file, or reaches the network.

The check reads the source (every ``geo/*.py`` and ``geo/*.pyx``): it fails on an import of
a module that does input or output, and on a call of ``open`` or of a reading or writing
method, wherever it stands. File work belongs to ``layers`` (``layers/diskcache.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GEO = Path(__file__).resolve().parents[2] / "geo"

# Modules whose purpose is input or output (of rasterio only its pure `features`, of osmnx only its
# speed imputation).
IO_MODULES = {
    "os",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "pickle",
    "shelve",
    "sqlite3",
    "socket",
    "urllib",
    "http",
    "requests",
    "httpx",
    "pyogrio",
    "fiona",
    "osmnx",
    "osmium",
    "mmap",
    "glob",
}
IO_CALLS = {
    "open",
    "save",
    "savez",
    "savez_compressed",
    "savetxt",
    "load",
    "loadtxt",
    "genfromtxt",
    "fromfile",
    "tofile",
    "memmap",
    "read_text",
    "write_text",
    "read_bytes",
    "write_bytes",
    "to_file",
    "read_file",
    "read_csv",
    "to_csv",
    "read_parquet",
    "to_parquet",
    "read_pickle",
    "to_pickle",
    "read_dataframe",
    "write_dataframe",
    "graph_from_xml",
    "save_graphml",
    "load_graphml",
}
ALLOWED_FROM = {("rasterio", "features"), ("osmnx.routing", "add_edge_speeds")}  # pure computations


def violations(source: str) -> list[str]:
    """Return what in ``source`` reads or writes files (empty when pure)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in IO_MODULES | {"rasterio"}]
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            allowed = all((node.module, a.name) in ALLOWED_FROM for a in node.names)
            if (top in IO_MODULES or top == "rasterio") and not allowed:
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in IO_CALLS:
                found.append(f"{name}() on line {node.lineno}")
    return found


def _pyx_as_python(text: str) -> str:
    """Return the Python-looking lines of a Cython file (its calls and imports), for the same check."""
    keep = [
        ln
        for ln in text.splitlines()
        if not ln.lstrip().startswith(("cdef", "cimport", "from libc", "ctypedef", "@cython", "cpdef"))
    ]
    body = [ln.strip() for ln in keep if ln.strip() and not ln.strip().startswith("#")]
    found = []
    for ln in body:
        try:
            ast.parse(ln)
        except SyntaxError:
            continue
        found.append(ln)
    return "\n".join(found)


@pytest.mark.parametrize("path", sorted(GEO.glob("*.py")) + sorted(GEO.glob("*.pyx")), ids=lambda p: p.name)
def test_no_module_of_geo_touches_files(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    source = _pyx_as_python(text) if path.suffix == ".pyx" else text
    assert violations(source) == [], f"{path.name} does file or network work: move it to layers"


@pytest.mark.parametrize(
    "snippet",
    [
        "np.save(path, arr)",
        "arrays = np.load(f, mmap_mode='r')",
        "with open(p) as fh: pass",
        "Path(p).write_text('x')",
        "import shutil",
        "from pathlib import Path",
        "from rasterio import open as ropen",
        "gdf.to_file('a.gpkg')",
    ],
)
def test_the_check_finds_file_work(snippet: str) -> None:
    assert violations(snippet)


def test_the_check_allows_pure_code() -> None:
    assert violations("from rasterio import features\nimport numpy as np\nx = np.asarray([1])\nd.get('x')") == []
