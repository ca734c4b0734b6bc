"""Builds the keras64 Python module with CMake (metadata: pyproject.toml).

build_ext runs CMake on the repository around this folder (the C++ library, the pybind11 module
and the keras64 tool; no tests) and copies the built _keras64 and the tool (keras64/bin/keras64,
which `python -m keras64` runs) into the package. The version is CMake's project version.
pybind11 comes from the Python environment when it has one (PyPI's, in an isolated build), else
from the system's CMake package (Debian's pybind11-dev).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def project_version() -> str:
    text = (ROOT / "CMakeLists.txt").read_text()
    m = re.search(r"^project\(keras64 VERSION (\d+\.\d+\.\d+)", text, re.MULTILINE)
    if not m:
        raise RuntimeError(f"no 'project(keras64 VERSION x.y.z' line in {ROOT / 'CMakeLists.txt'}")
    return m.group(1)


def pybind11_args() -> list:
    try:
        import pybind11
    except ImportError:
        return []
    return [f"-Dpybind11_DIR={pybind11.get_cmake_dir()}"]


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = Path(self.build_temp).resolve() / "cmake"
        configure = ["cmake", "-S", str(ROOT), "-B", str(build_dir),
                     "-DCMAKE_BUILD_TYPE=Release", "-DKERAS64_BUILD_PYTHON=ON",
                     "-DKERAS64_BUILD_TESTS=OFF", "-DKERAS64_BUILD_CLI=ON",
                     "-DKERAS64_INSTALL=OFF",
                     f"-DKERAS64_PYTHON={sys.executable}", f"-DPython_EXECUTABLE={sys.executable}",
                     *pybind11_args()]
        if shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
            configure += ["-G", "Ninja"]
        subprocess.check_call(configure)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_keras64",
                               "keras64_cli", "--parallel", jobs])
        built = sorted((build_dir / "python" / "keras64").glob("_keras64*"))
        if not built:
            raise RuntimeError(f"CMake did not produce _keras64 in {build_dir}/python/keras64")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], dest)
        cli = dest.parent / "bin" / "keras64"
        cli.parent.mkdir(exist_ok=True)
        shutil.copy2(build_dir / "keras64", cli)


setup(
    version=project_version(),
    ext_modules=[Extension("keras64._keras64", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
