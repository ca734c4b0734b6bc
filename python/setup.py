"""Offline install of the keras64 Python module with Debian's own tools:

    python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation ./python

--no-build-isolation makes pip use the installed setuptools instead of fetching one from PyPI.
build_ext runs CMake on the repository around this folder (the C++ library and the pybind11
module only: no CLI, no tests) and copies the built _keras64 into the package.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = Path(self.build_temp).resolve() / "cmake"
        configure = ["cmake", "-S", str(ROOT), "-B", str(build_dir),
                     "-DCMAKE_BUILD_TYPE=Release", "-DKERAS64_BUILD_PYTHON=ON",
                     "-DKERAS64_BUILD_TESTS=OFF", "-DKERAS64_BUILD_CLI=OFF",
                     f"-DKERAS64_PYTHON={sys.executable}", f"-DPython_EXECUTABLE={sys.executable}"]
        if shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
            configure += ["-G", "Ninja"]
        subprocess.check_call(configure)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_keras64",
                               "--parallel", jobs])
        built = sorted((build_dir / "python" / "keras64").glob("_keras64*"))
        if not built:
            raise RuntimeError(f"CMake did not produce _keras64 in {build_dir}/python/keras64")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], dest)


setup(
    name="keras64",
    version="0.1.0",
    description="Keras weights as float64: save, load, convert and inspect, streaming",
    packages=["keras64"],
    package_data={"keras64": ["py.typed", "__init__.pyi"]},
    ext_modules=[Extension("keras64._keras64", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.8",
    install_requires=["numpy"],
    zip_safe=False,
)
