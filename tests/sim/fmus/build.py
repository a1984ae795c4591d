"""Build the test FMUs from their sources in this folder, once per source version.

``lag_fmu(version)`` compiles ``lag.c`` with gcc against the FMI headers fmpy ships and zips
it with ``lag2.xml``/``lag3.xml`` (one FMU with Model Exchange and Co-Simulation);
``tank_fmu(version)`` builds ``tank2.py``/``tank3.py`` with pythonfmu/pythonfmu3.

FMUs land in a cache folder under the system temp directory, named by a hash of everything
that goes into them, so the contract cases, the tests and the benchmark share one build and
an edited source is rebuilt. A build goes to a private folder first and is moved into place
in one rename, so parallel test workers never see half an FMU.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import fmpy

HERE = Path(__file__).resolve().parent
CACHE = Path(tempfile.gettempdir()) / "twinsight-test-fmus"
FMI_HEADERS = Path(fmpy.__file__).parent / "c-code"


def _cached(
    key_parts: list[bytes], name: str, build: Callable[[Path], Path], cache: Path | None
) -> Path:
    digest = hashlib.sha256(b"\0".join(key_parts)).hexdigest()[:16]
    target = (cache or CACHE) / digest / name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        built = build(Path(work))
        os.replace(built, target)
    return target


def lag_fmu(version: int, *, faults: bool = False, cache: Path | None = None) -> Path:
    """The first-order lag FMU (FMI ``version`` 2 or 3); ``faults`` builds the variant that
    fails a step for an input above 1000 and gives a NaN output for one below -1000.
    ``cache`` is the folder to build into (default: the shared one under the temp dir)."""
    sources = [HERE / "lag.c", HERE / f"lag{version}.xml"]
    if version == 3:
        sources.append(HERE / "unsupported.c")
    name = f"lag{version}{'-faults' if faults else ''}.fmu"
    key = [p.read_bytes() for p in sources] + [name.encode(), fmpy.__version__.encode()]

    def build(work: Path) -> Path:
        platform = fmpy.platform_tuple if version == 3 else fmpy.platform
        binaries = work / "binaries" / platform
        binaries.mkdir(parents=True)
        c_files = [str(p) for p in sources if p.suffix == ".c"]
        defines = [f"-DFMI_VERSION={version}"] + (["-DLAG_FAULTS"] if faults else [])
        compiled = subprocess.run(
            [
                "gcc",
                "-shared",
                "-fPIC",
                "-O2",
                "-Wall",
                "-Werror",
                f"-I{FMI_HEADERS}",
                *defines,
                *c_files,
                "-o",
                str(binaries / "lag.so"),
                "-lm",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if compiled.returncode != 0:
            raise RuntimeError(f"gcc failed building {name}:\n{compiled.stderr}")
        fmu = work / name
        with zipfile.ZipFile(fmu, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(HERE / f"lag{version}.xml", "modelDescription.xml")
            archive.write(binaries / "lag.so", f"binaries/{platform}/lag.so")
        return fmu

    return _cached(key, name, build, cache)


def tank_fmu(version: int, *, cache: Path | None = None) -> Path:
    """The leaky-tank FMU built by pythonfmu (``version`` 2) or pythonfmu3 (3)."""
    script = HERE / f"tank{version}.py"
    if version == 2:
        from pythonfmu import FmuBuilder
        from pythonfmu import __version__ as builder_version
    else:
        from pythonfmu3 import FmuBuilder
        from pythonfmu3 import __version__ as builder_version
    name = f"Tank{version}.fmu"
    key = [script.read_bytes(), name.encode(), builder_version.encode()]

    def build(work: Path) -> Path:
        return Path(FmuBuilder.build_FMU(script, dest=work))

    return _cached(key, name, build, cache)


def with_platforms_renamed(fmu: Path, folder: Path, rename: dict[str, str]) -> Path:
    """A copy of ``fmu`` in ``folder`` whose ``binaries/<platform>`` folders are renamed,
    e.g. ``{"linux64": "win64"}`` for an FMU that only has Windows binaries."""
    copy = folder / f"{fmu.stem}-{'-'.join(rename.values())}.fmu"
    with zipfile.ZipFile(fmu) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            name = item.filename
            for old, new in rename.items():
                name = name.replace(f"binaries/{old}/", f"binaries/{new}/")
            target.writestr(name, source.read(item))
    return copy


def without_member(fmu: Path, folder: Path, member: str) -> Path:
    """A copy of ``fmu`` in ``folder`` without the archive member ``member``."""
    copy = folder / f"{fmu.stem}-without-{member.replace('/', '_')}.fmu"
    with zipfile.ZipFile(fmu) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            if item.filename != member:
                target.writestr(item, source.read(item))
    return copy


def clear_cache() -> None:
    """Remove every cached build (a fresh build happens on next use)."""
    shutil.rmtree(CACHE, ignore_errors=True)
