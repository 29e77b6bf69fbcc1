"""`pip install --no-build-isolation ./python`: builds libreckon_torch with CMake, from the source tree this folder
sits in, against the torch of the Python running pip, and installs it inside the package.

--no-build-isolation lets the build see that torch (an isolated build would fetch another). Environment:
RECKON_BUILD_DIR (default: build-pip in the source tree), RECKON_CMAKE_ARGS (more -D options, e.g.
-DRECKON_CUDA=OFF), RECKON_SOURCE_DIR (the source tree, if this folder was copied elsewhere).
"""
import os
import pathlib
import shlex
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent


def source_dir():
    source = pathlib.Path(os.environ.get("RECKON_SOURCE_DIR", HERE.parent))
    if not (source / "CMakeLists.txt").is_file() or not (source / "python" / "csrc").is_dir():
        sys.exit("reckon: the source tree was not found at %s; set RECKON_SOURCE_DIR" % source)
    return source


class BuildWithCMake(build_py):
    """The pure-Python package as usual, then libreckon_torch.so built by CMake and copied beside it."""

    def run(self):
        super().run()
        import torch.utils

        source = source_dir()
        build = pathlib.Path(os.environ.get("RECKON_BUILD_DIR", source / "build-pip"))
        configure = ["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DRECKON_PYTHON=ON",
                     "-DRECKON_PYTHON_EXECUTABLE=" + sys.executable,
                     "-DCMAKE_PREFIX_PATH=" + torch.utils.cmake_prefix_path, "-DRECKON_BUILD_TESTS=OFF",
                     "-DRECKON_BUILD_BENCHMARKS=OFF", "-DRECKON_BUILD_APPS=OFF"]
        if shutil.which("ninja") and not (build / "CMakeCache.txt").exists():
            configure += ["-G", "Ninja"]
        subprocess.check_call(configure + shlex.split(os.environ.get("RECKON_CMAKE_ARGS", "")))
        subprocess.check_call(["cmake", "--build", str(build), "--target", "reckon_torch", "-j", str(os.cpu_count() or 2)])
        package = pathlib.Path(self.build_lib) / "reckon"
        package.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build / "python" / "libreckon_torch.so", package / "libreckon_torch.so")


class BinaryDistribution(Distribution):
    """The wheel carries a compiled library: tag it for this platform and Python, not as pure Python."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithCMake}, distclass=BinaryDistribution)
