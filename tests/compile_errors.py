#!/usr/bin/env python3
"""tests/compile_errors.py — misuse that must not compile, and the message the user then reads.

Usage: compile_errors.py INCLUDE_DIR COMPILER [ARGS...]. Compiles each snippet below with
-fsyntax-only against the public headers and checks that it fails with the expected
static_assert message; a correct snippet must compile, so a broken command line cannot pass.
"""
import subprocess
import sys
import tempfile

PRELUDE = "#include <goro/goro.hpp>\n#include <memory>\n#include <optional>\nvoid f() {\n"

CASES = [
    ("correct use compiles", None,
     "goro::chan<int> ch(1); goro::go([](int, std::unique_ptr<int>) {}, 1, std::make_unique<int>());"
     "goro::select(goro::on_recv(ch, [](std::optional<int>) {}), goro::on_send(ch, 1, [] {}),"
     "             goro::on_recv(ch), goro::on_default([] {}));"),
    ("go of something not callable with its arguments",
     "goro::go(f, args...): f must be callable",
     'goro::go([](int) {}, "text");'),
    ("a receive handler taking the element instead of std::optional",
     "goro::on_recv(ch, handler): handler must take std::optional<T>",
     "goro::chan<int> ch(1); goro::select(goro::on_recv(ch, [](int) {}));"),
    ("a send handler taking an argument",
     "goro::on_send(ch, v, handler): handler must take nothing",
     "goro::chan<int> ch(1); goro::select(goro::on_send(ch, 1, [](int) {}));"),
    ("a default handler taking an argument",
     "goro::on_default(handler): handler must take nothing",
     "goro::chan<int> ch(1); goro::select(goro::on_recv(ch), goro::on_default([](int) {}));"),
    ("a channel passed to select instead of a case",
     "goro::select: each argument must be a case made by goro::on_recv, on_send or on_default",
     "goro::chan<int> ch(1); goro::select(goro::on_recv(ch), ch);"),
    ("two defaults",
     "goro::select: at most one on_default case",
     "goro::chan<int> ch(1); goro::select(goro::on_recv(ch), goro::on_default([] {}), goro::on_default([] {}));"),
    ("a channel of references",
     "goro::chan<T>: T must be an object type",
     "int x = 0; goro::chan<int&> ch(1); (void)x;"),
]


def main():
    include_dir, compiler = sys.argv[1], sys.argv[2:]
    failed = 0
    for name, expected, body in CASES:
        with tempfile.NamedTemporaryFile("w", suffix=".cpp") as src:
            src.write(PRELUDE + body + "\n}\n")
            src.flush()
            r = subprocess.run(compiler + ["-std=c++20", "-fsyntax-only", "-I", include_dir, src.name],
                               capture_output=True, text=True)
        if expected is None:
            ok = r.returncode == 0
        else:
            ok = r.returncode != 0 and expected in r.stderr
        print(("ok      " if ok else "FAILED  ") + name)
        if not ok:
            failed += 1
            print(r.stderr[-3000:] or "(compiled, but must not)")
    sys.exit(1 if failed else 0)


main()
