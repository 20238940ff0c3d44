"""A build that fails because the image has no compiler is told so, naming the compiler. The lines
are what the tools really print (setuptools, distutils, gcc, the shell, CMake, meson)."""

from __future__ import annotations

import pytest

from orchestrator.building.failures import diagnose

CXX = "the image lacks a C++ compiler (g++)"
CC = "the image lacks a C compiler (gcc)"
HASH = "a downloaded file is not the one the lock's hash names"
HEADERS = "the image lacks Python's development headers (Python.h)"


@pytest.mark.parametrize(
    ("output", "hint"),
    [
        # setuptools >= 70 in an image without g++ (tests/integration: the fastcpp fixture)
        (["      x86_64-linux-gnu-g++ -Wsign-compare -c src/fastcpp.cpp -o build/fastcpp.o",
          "      error: [Errno 2] No such file or directory: 'x86_64-linux-gnu-g++'",
          "  ERROR: Failed building wheel for fastcpp"], CXX),
        (["error: command 'g++' failed: No such file or directory"], CXX),
        (["unable to execute 'c++': No such file or directory"], CXX),
        # gcc present, its C++ front end missing (the gcc driver compiling a .cpp)
        (["gcc: fatal error: cannot execute \u2018cc1plus\u2019: execvp: No such file or directory"], CXX),
        (["g++: error trying to exec 'cc1plus': execvp: No such file or directory"], CXX),
        (["sh: 1: g++: not found"], CXX),
        (["/bin/sh: line 1: c++: command not found"], CXX),
        (["  -- No CMAKE_CXX_COMPILER could be found."], CXX),
        (["  ../meson.build:1:0: ERROR: Unknown compiler(s): [['c++'], ['g++'], ['clang++']]"], CXX),
        (["      error: [Errno 2] No such file or directory: 'x86_64-linux-gnu-gcc'"], CC),
        (["error: command 'gcc' failed: No such file or directory"], CC),
        (["error: command '/usr/bin/cc' failed: No such file or directory"], CC),
        (["unable to execute 'gcc': No such file or directory"], CC),
        (["gcc: fatal error: cannot execute 'cc1': execvp: No such file or directory"], CC),
        (["/bin/sh: 1: cc: not found"], CC),
        (["  -- No CMAKE_C_COMPILER could be found."], CC),
        (["  ../meson.build:1:0: ERROR: Unknown compiler(s): [['cc'], ['gcc'], ['clang']]"], CC),
        # pip's and uv's words when a file is not the one the lock's hash names
        (["ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE."], HASH),
        (["  error: Hash mismatch for `crcmod==1.7`"], HASH),
        # a compiler that ran and failed is a compile error, not a missing compiler
        (["error: command '/usr/bin/gcc' failed with exit code 1"], "the package's C build failed"),
        # setuptools >= 75 names the compiler's whole argv
        (["error: Command '['x86_64-linux-gnu-gcc', '-g0', '-c', 'src/x.c']' returned non-zero exit status 1."],
         "the package's C build failed"),
        # an image without Python's development headers (gcc's own words, C and C++)
        (["src/x.c:1:10: fatal error: Python.h: No such file or directory"], HEADERS),
        (["src/y.cpp:1:10: fatal error: Python.h: No such file or directory"], HEADERS),
        (["src/x.c:1:10: fatal error: 'Python.h' file not found"], HEADERS),
        # another missing header is the package's own need, not Python's
        (["src/x.c:2:10: fatal error: zlib.h: No such file or directory"], "the package's C build failed"),
    ],
)  # fmt: skip
def test_a_missing_compiler_is_named(output: list[str], hint: str) -> None:
    found = diagnose(output)
    assert found.hint is not None and found.hint.startswith(hint), found.hint
    assert not found.transient
    if hint in (CXX, CC):
        assert found.hint.endswith("use an image that has it, as the SAM build images do")
