"""Building what tools/bench runs: dependencies, goro + the Boost.Fiber peer (meson, release),
and the Go peer (go build)."""
import subprocess
import sys

MESON_OPTIONS = ["-Dbuildtype=release", "-Db_lto=true", "-Dbench=true", "-Dtests=false"]


def step(argv, cwd):
    print("+ " + " ".join(str(a) for a in argv), file=sys.stderr, flush=True)
    subprocess.run([str(a) for a in argv], cwd=cwd, check=True, stdout=sys.stderr)


def build(root, build_dir):
    """Raises subprocess.CalledProcessError if any step fails."""
    step([root / "tools" / "bootstrap"], root)
    # --reconfigure (not just `meson configure`) so that a bench/goro/bench.cpp that appeared since
    # the last setup is picked up (bench/meson.build looks for it at configure time).
    reconfigure = ["--reconfigure"] if (build_dir / "build.ninja").exists() else []
    step(["meson", "setup", *reconfigure, build_dir, *MESON_OPTIONS], root)
    if reconfigure:  # meson 1.0's --reconfigure ignores changed base options such as b_lto
        step(["meson", "configure", build_dir, *MESON_OPTIONS], root)
    step(["ninja", "-C", build_dir], root)
    step(["go", "build", "-o", root / build_dir / "go_bench", "."], root / "bench" / "go")
