"""The repository's layout rules (CONTRIBUTING.md), checked from the source and in a fresh interpreter.

* ``fillblank_core`` (the library the nodes ship with) imports no ComfyUI module and nothing of this
  repository outside itself — in particular never ``fillblank_lab`` — and imports without ComfyUI.
* ``fillblank_lab`` (toy world, toy model, analytic denoisers, metrics, demo) may import
  ``fillblank_core`` (absolutely: it runs as a top-level package), never ComfyUI or ``nodes``.
* The shipped ComfyUI layer (``__init__.py``, ``nodes/``) never imports ``fillblank_lab``, and
  ``.comfyignore`` leaves out of the registry archive exactly what nothing shipped needs.
* No import cycle among the modules of the core, the node layer, the lab or ``benchmarks/`` (whose
  scripts import each other by bare name), and no ``benchmarks/`` file longer than 450 lines.

Imports are read with ``ast`` (module level and inside functions, relative imports resolved, constant
``importlib.import_module`` / ``__import__`` calls), so a lazy import is caught as well.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE, LAB = "fillblank_core", "fillblank_lab"

# top-level modules of ComfyUI (and its 2024–2026 generations) that a library must not touch
COMFYUI = ("comfy", "comfy_extras", "comfy_api", "comfy_api_nodes", "comfy_execution", "comfy_config",
           "folder_paths", "nodes", "server", "latent_preview", "execution", "node_helpers",
           "comfyui_version")
# this repository's own top-level folders that are not importable libraries of the product
DEV_ONLY = (LAB, "tests", "benchmarks", "scripts")


# --- reading imports --------------------------------------------------------------------------------

def _py_files(folder: str) -> list[Path]:
    return sorted(p for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts)


def imports_of(path: Path, source: str | None = None) -> list[tuple[int, str, bool]]:
    """(line, absolute dotted name, relative?) of every import in ``path`` (a file of this
    repository; ``source`` replaces its text). Relative imports are resolved against the file's
    place in the repository, the repository root being the package ComfyUI loads it as (so
    ``from ..fillblank_lab import x`` in nodes/ reads ``fillblank_lab.x``); one that climbs above
    the root reads ``<above the repository>``."""
    package = list(path.relative_to(REPO).parts[:-1])  # the file's package ([] = the repository root)
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source, filename=str(path))
    found: list[tuple[int, str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, False) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            rel = node.level > 0
            if not rel:
                base = node.module.split(".")
            elif node.level - 1 > len(package):
                found.append((node.lineno, "<above the repository>", True))
                continue
            else:
                base = package[:len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            if base:
                found.append((node.lineno, ".".join(base), rel))
            # `from pkg import name` may import the submodule pkg.name
            found += [(node.lineno, ".".join(base + [a.name]), rel) for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in ("import_module", "__import__") and not node.args[0].value.startswith("."):
                found.append((node.lineno, node.args[0].value, False))
    return found


def offenders(files: list[Path], forbidden) -> list[str]:
    """Imports of a top-level name in ``forbidden``, or relative imports that climb above the repository."""
    return [f"{path.relative_to(REPO)}:{line} imports {name}" for path in files
            for line, name, _ in imports_of(path)
            if name.split(".")[0] in forbidden or name == "<above the repository>"]


def test_import_reader_resolves_relative_and_lazy_imports():
    """The reader itself, on made-up sources: otherwise a bug in it would let every rule pass."""
    src = ("import os, comfy.sd\nfrom . import common\nfrom ..fillblank_lab.toy import x\n"
           "from ... import y\n"
           "def f():\n    from ..fillblank_core import masks\n"
           "    import importlib; importlib.import_module('fillblank_lab.demo')\n")
    names = [n for _, n, _ in imports_of(REPO / "nodes" / "probe.py", src)]
    for expected in ("os", "comfy.sd", "nodes.common", "fillblank_lab.toy", "fillblank_lab.toy.x",
                     "<above the repository>", "fillblank_core.masks", "fillblank_lab.demo"):
        assert expected in names, (expected, names)
    core = imports_of(REPO / CORE / "probe.py", "from .. import NODE_CLASS_MAPPINGS\nfrom .masks import grow\n")
    assert [(n, r) for _, n, r in core] == [("NODE_CLASS_MAPPINGS", True), ("fillblank_core.masks", True),
                                            ("fillblank_core.masks.grow", True)]


# --- the dependency rule, from the source ------------------------------------------------------------

def test_core_imports_neither_comfyui_nor_the_lab():
    files = _py_files(CORE)
    assert len(files) >= 5 and REPO / CORE / "__init__.py" in files
    forbidden = set(COMFYUI) | set(DEV_ONLY)
    assert not offenders(files, forbidden), (
        "fillblank_core is the product library: no ComfyUI imports (that belongs in nodes/) and no "
        "fillblank_lab / tests / benchmarks / scripts imports (the lab may import the core, never the "
        "reverse)", offenders(files, forbidden))
    # and no relative import that climbs out of the package into the pack (`from .. import x`)
    climbing = [f"{p.relative_to(REPO)}:{line} {name}" for p in files for line, name, rel in imports_of(p)
                if rel and name.split(".")[0] != CORE]
    assert not climbing, climbing


def test_shipped_comfyui_layer_never_imports_the_lab():
    files = [REPO / "__init__.py"] + _py_files("nodes")
    # the root __init__ and nodes/ run inside the package ComfyUI loads, so `..fillblank_core` is fine
    assert not offenders(files, set(DEV_ONLY)), offenders(files, set(DEV_ONLY))


# the node layer's shared modules: declarations (common), glue (guidance), ComfyUI shims (compat), the
# server routes of the web editors (web) and the package's registration (__init__); every other file in
# nodes/ holds node classes
NODE_SHARED = {"__init__", "common", "guidance", "compat", "web"}


def node_file_imports(files: list[Path]) -> list[str]:
    """Imports of one node file by another (``from .sampler import …`` in nodes/insert.py)."""
    node_files = {p.stem for p in files} - NODE_SHARED
    return [f"{p.relative_to(REPO)}:{line} imports {name}" for p in files if p.stem not in ("__init__",)
            for line, name, _ in imports_of(p)
            if name.split(".")[:1] == ["nodes"] and len(name.split(".")) > 1 and name.split(".")[1] in node_files]


def test_node_files_never_import_each_other():
    """Node files sit side by side: each imports the core, common, guidance and compat, never another
    node file (the reader is checked on a made-up file first)."""
    files = _py_files("nodes")
    probe = REPO / "nodes" / "probe.py"
    made_up = [f"{probe.relative_to(REPO)}:{line} imports {name}" for line, name, _ in
               imports_of(probe, "from .sampler import guided_sample\nfrom .common import schema\n")
               if name.split(".")[:2] == ["nodes", "sampler"]]
    assert made_up, "the reader must see `from .sampler import …` as an import of nodes.sampler"
    assert {"common", "guidance", "compat"} <= {p.stem for p in files}
    assert node_file_imports(files) == [], node_file_imports(files)


def _module_graph(folder: str, package: str) -> dict[str, set[str]]:
    files = _py_files(folder)
    names = {p.stem for p in files}
    return {p.stem: {n.split(".")[1] for _, n, _ in imports_of(p)
                     if n.split(".")[0] == package and len(n.split(".")) > 1 and n.split(".")[1] in names
                     and n.split(".")[1] != p.stem}
            for p in files if p.stem != "__init__"}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append(path[path.index(m):] + [m])
            elif m not in state:
                visit(m, path + [m])
        state[n] = 2
    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    return found


def test_no_import_cycle_in_the_core_or_the_node_layer():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]  # the finder
    for folder, package in ((CORE, CORE), ("nodes", "nodes")):
        assert _cycles(_module_graph(folder, package)) == [], (folder, _cycles(_module_graph(folder, package)))


def _script_graph(folder: str, sources: dict[str, str] | None = None) -> dict[str, set[str]]:
    """The import graph of a folder of scripts that import each other by bare module name (the
    scripts put their folder on ``sys.path``: ``import evidence_world``); ``sources`` replaces or
    adds files' text by module name."""
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted((REPO / folder).glob("*.py"))}
    texts.update(sources or {})
    return {stem: {n.split(".")[0] for _, n, rel in imports_of(REPO / folder / f"{stem}.py", src)
                   if not rel and n.split(".")[0] in texts and n.split(".")[0] != stem}
            for stem, src in texts.items()}


def test_no_import_cycle_in_the_lab_or_the_benchmarks():
    """fillblank_lab's modules, and benchmarks/ (scripts importing each other by bare name), import
    without a cycle (the reader is checked first on a made-up pair that imports each other, as
    evidence.py and evidence_several.py once did)."""
    made_up = _script_graph("benchmarks", {"probe_a": "import probe_b as B\n",
                                           "probe_b": "import probe_a as A\nfrom probe_a import HERE\n",
                                           "probe_c": "from probe_b import x\nimport os\n"})
    assert made_up["probe_c"] == {"probe_b"}
    assert [c for c in _cycles(made_up) if "probe_a" in c] == [["probe_a", "probe_b", "probe_a"]]
    bench = _script_graph("benchmarks")
    assert _cycles(bench) == [], ("benchmarks", _cycles(bench))
    assert bench["evidence"] >= {"evidence_world", "evidence_cells", "evidence_report"}, bench["evidence"]
    assert _cycles(_module_graph(LAB, LAB)) == [], (LAB, _cycles(_module_graph(LAB, LAB)))


# every file of benchmarks/ at most this long (the longest, cost.py, is 432 lines): split a longer one
BENCHMARK_MAX_LINES = 450


def test_benchmark_files_stay_short():
    long = {p.name: n for p in sorted((REPO / "benchmarks").glob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > BENCHMARK_MAX_LINES}
    assert not long, f"split these benchmarks/ files (> {BENCHMARK_MAX_LINES} lines): {long}"


def test_lab_imports_the_core_absolutely_and_never_comfyui():
    files = _py_files(LAB)
    assert {p.stem for p in files} >= {"__init__", "toy", "toy_model", "metrics", "denoisers", "demo"}
    forbidden = set(COMFYUI) | {"tests", "benchmarks", "scripts"}
    assert not offenders(files, forbidden), offenders(files, forbidden)
    # the lab runs as a top-level package (python -m fillblank_lab.demo, tests, benchmarks): a
    # relative `..fillblank_core` would only work when loaded inside the ComfyUI pack
    relative_up = [f"{p.relative_to(REPO)}:{line} {name}" for p in files for line, name, rel in imports_of(p)
                   if rel and name.split(".")[0] != LAB]
    assert not relative_up, relative_up
    uses_core = {n for p in files for _, n, _ in imports_of(p) if n.split(".")[0] == CORE}
    assert uses_core, "expected the lab to build on fillblank_core"


def test_core_holds_only_what_the_product_runs():
    """The evaluation modules and the toy model's weights live in the lab, not in the core."""
    for moved in ("toy", "toy_model", "metrics", "denoisers", "demo", "clip_encoder"):
        assert not (REPO / CORE / f"{moved}.py").exists(), f"{CORE}/{moved}.py belongs in {LAB}/"
        assert (REPO / LAB / f"{moved}.py").exists()
    core_clip = (REPO / CORE / "clip.py").read_text(encoding="utf-8")
    assert "class ClipImageEncoder" not in core_clip and "transformers" not in core_clip.split('"""', 2)[2]
    data = [str(p.relative_to(REPO)) for p in (REPO / CORE).rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert not data, f"data files in the product library (weights belong in {LAB}/assets): {data}"
    assert (REPO / LAB / "assets" / "toy_denoiser.safetensors").is_file()


# --- the dependency rule, in a fresh interpreter without ComfyUI --------------------------------------

_PROBE = r"""
import importlib, importlib.util, json, sys
COMFYUI, CORE_MODULES, LAB_MODULES = json.loads(sys.argv[1])
specs = {n: importlib.util.find_spec(n) for n in COMFYUI}
report = {"comfyui_findable": {n: s.origin for n, s in specs.items() if s is not None},
          "comfyui_on_path": [p for p in sys.path if "comfyui" in p.lower()]}
for name in COMFYUI:
    sys.modules[name] = None  # any import of these now raises ImportError
import fillblank_core
for m in CORE_MODULES:
    importlib.import_module("fillblank_core." + m)
report["core_all"] = len(fillblank_core.__all__)
report["lab_after_core"] = sorted(n for n in sys.modules if n.split(".")[0] == "fillblank_lab")
import fillblank_lab
for m in LAB_MODULES:
    importlib.import_module("fillblank_lab." + m)
report["lab_all"] = sorted(fillblank_lab.__all__)
report["comfyui_loaded"] = sorted(n for n in sys.modules
                                  if n.split(".")[0] in COMFYUI and sys.modules[n] is not None)
print("REPORT " + json.dumps(report))
"""


def test_core_and_lab_import_in_a_fresh_interpreter_without_comfyui():
    def stems(folder):
        return sorted(p.stem for p in (REPO / folder).glob("*.py") if p.stem != "__init__")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COMFYUI_PATH")}
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps([COMFYUI, stems(CORE), stems(LAB)])],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    assert line, proc.stdout
    report = json.loads(line[-1][len("REPORT "):])
    # (the pack's own nodes/ folder is importable as `nodes` from the repository root; ComfyUI's is not)
    findable = {n: o for n, o in report["comfyui_findable"].items()
                if not (n == "nodes" and Path(o) == REPO / "nodes" / "__init__.py")}
    assert findable == {} and report["comfyui_on_path"] == [], \
        f"the probe was meant to run without ComfyUI importable: {report}"
    assert report["lab_after_core"] == [], \
        f"importing fillblank_core (all its modules) loaded the lab: {report['lab_after_core']}"
    assert report["core_all"] > 0
    assert {"ExemplarDenoiser", "GaussianPrior", "smooth_covariance"} <= set(report["lab_all"])
    assert report["comfyui_loaded"] == []


# --- the registry archive (.comfyignore) --------------------------------------------------------------

def _comfyignore_patterns() -> list[str]:
    """The patterns as comfy-cli reads them (stripped lines, `#` comments and blanks dropped), after
    checking they use only the gitwildmatch subset :func:`_ignored` implements exactly."""
    lines = (REPO / ".comfyignore").read_text(encoding="utf-8").splitlines()
    pats = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    for p in pats:
        assert not re.search(r"\*\*|\[|\\", p), f".comfyignore: {p!r} uses syntax this test does not model"
    return pats


def _matches(pattern: str, parts: tuple[str, ...]) -> bool:
    """gitwildmatch (as pathspec applies it to one file path): a pattern matches the path or one of
    its parent folders; with a slash before its end it is anchored at the root, without one it
    matches a name at any depth; a trailing slash matches folders only."""
    dir_only = pattern.endswith("/")
    pat = pattern.rstrip("/")
    anchored = "/" in pat
    segs = pat.lstrip("/").split("/")
    if anchored:
        n = len(segs)
        if len(parts) < n + (1 if dir_only else 0):
            return False
        return all(fnmatch.fnmatchcase(parts[i], segs[i]) for i in range(n))
    candidates = parts[:-1] if dir_only else parts
    return any(fnmatch.fnmatchcase(c, segs[0]) for c in candidates)


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = tuple(rel.split("/"))
    verdict = False
    for p in patterns:
        neg = p.startswith("!")
        if _matches(p[1:] if neg else p, parts):
            verdict = not neg
    return verdict


def _archive(patterns: list[str]) -> set[str]:
    """The files the archive would hold built from this folder (comfy-cli without git: the whole
    tree minus .comfyignore; with git it starts from the tracked files, a subset of these)."""
    keep: set[str] = set()
    for root, dirs, files in os.walk(REPO):
        rel_root = Path(root).relative_to(REPO).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        # skip folders that are ignored whole (nothing under them is taken back with `!`)
        dirs[:] = [d for d in dirs if d != ".git" and not (
            _ignored(rel_root + d + "/x", patterns)
            and not any(p.startswith("!") and p.lstrip("!/").startswith(rel_root + d + "/") for p in patterns))]
        keep |= {rel_root + f for f in files if not _ignored(rel_root + f, patterns)}
    return keep


def test_matcher_reads_gitignore_like_pathspec():
    pats = ["/a/", "*.pyc", "__pycache__/", "/b/*", "!/b/keep/", "/b/keep/*", "!/b/keep/this.png", "/c.txt"]
    cases = {"a/x.py": True, "a/d/x.py": True, "z/a/x.py": False, "x.pyc": True, "q/w/x.pyc": True,
             "q/__pycache__/m.pyc": True, "__pycache__": False, "b/x.py": True, "b/keep/other.csv": True,
             "b/keep/this.png": False, "c.txt": True, "d/c.txt": False, "a.py": False}
    assert {k: _ignored(k, pats) for k in cases} == cases


def test_comfyignore_ships_the_product_and_nothing_of_the_lab():
    archive = _archive(_comfyignore_patterns())
    # what ComfyUI and ComfyUI-Manager need, and the templates ComfyUI shows
    product = ["__init__.py", "pyproject.toml", "requirements.txt", "README.md", "LICENSE"]
    product += [p.relative_to(REPO).as_posix() for folder in ("nodes", CORE, "web", "example_workflows")
                for p in (REPO / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(p.startswith("example_workflows/") and p.endswith(".json") for p in product)
    missing = sorted(set(product) - archive)
    assert not missing, f".comfyignore leaves out files the product needs: {missing}"
    # development only
    for folder in (LAB, "tests", "scripts", ".ci"):
        leaked = sorted(p for p in archive if p.startswith(folder + "/"))
        assert not leaked, f"{folder}/ would be published: {leaked[:5]}"
    assert "requirements-test.txt" not in archive
    assert sorted(p for p in archive if p.startswith("benchmarks/")) == ["benchmarks/results/demo_grid.png"]
    # every picture README.md shows is in the archive
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (REPO / "README.md").read_text(encoding="utf-8"))
    local = [i for i in images if "://" not in i]
    assert local and not [i for i in local if i not in archive], local
    # and every Python file in the archive imports only what the archive holds
    shipped_py = [REPO / p for p in archive if p.endswith(".py")]
    bad = offenders(shipped_py, set(DEV_ONLY))
    assert not bad, bad


def test_registry_validation_rules_are_clean():
    """What `comfy node validate` checks before the registry publishes a pack: no exec (S102), no
    eval (S307), no two statements on one line with a semicolon (E702)."""
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "S102,S307,E702",
                        "--output-format", "concise", str(REPO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    probe = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "S102,S307,E702",
                            "--stdin-filename", "probe.py", "-"], input="x = 1; eval('x')\n",
                           capture_output=True, text=True)
    assert "S307" in probe.stdout and "E702" in probe.stdout  # the rules are really applied


def test_ruff_is_clean_with_the_projects_rule_set():
    """ruff over the whole repository with pyproject.toml's rule set (ComfyUI's own: pycodestyle,
    pyflakes, exec / eval), as CI runs it; the probe shows the configuration is the one read."""
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", str(REPO)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    probe = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename",
                            str(REPO / "probe.py"), "-"], input="import os\nx = 1 \n", capture_output=True,
                           text=True, cwd=REPO)
    assert "F401" in probe.stdout and "W291" in probe.stdout, probe.stdout


# distributions whose import name differs from their name
IMPORT_NAMES = {"pillow": "PIL", "pyyaml": "yaml", "segment-anything": "segment_anything",
                "opencv-python": "cv2", "scikit-image": "skimage"}


def _requirement_names(text: str) -> list[str]:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from host_requirements import NAME, normalize
    finally:
        sys.path.pop(0)
    lines = [raw.split("#", 1)[0].strip() for raw in text.splitlines()]
    return [normalize(NAME.match(line).group(1)) for line in lines if line and not line.startswith("-")]


def test_requirements_list_only_what_comfyui_does_not_ship():
    """requirements.txt (and pyproject's dependencies, which the registry reads) hold what the shipped
    code imports and the host's own requirements.txt does not provide: nothing more, nothing less,
    and never torch, torchvision or diffusers."""
    host = os.environ.get("COMFYUI_PATH")
    if not host or not (Path(host) / "requirements.txt").is_file():
        import _needs
        _needs.missing("host", "this test reads the host's requirements.txt")
    ours = _requirement_names((REPO / "requirements.txt").read_text())
    shipped = set(_requirement_names((Path(host) / "requirements.txt").read_text()))
    assert not {"torch", "torchvision", "diffusers"} & set(ours)
    assert [n for n in ours if n in shipped] == [], "ComfyUI already installs these"
    import tomllib
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(_requirement_names("\n".join(deps))) == sorted(ours)
    # every third-party module the shipped code imports comes from the host or from requirements.txt
    provided = {IMPORT_NAMES.get(n, n.replace("-", "_")) for n in shipped | set(ours)} | set(COMFYUI) | {"torch"}
    files = [REPO / "__init__.py", *_py_files("nodes"), *_py_files(CORE)]
    mine = {CORE, "nodes"}
    imported = {name.split(".")[0] for path in files for _, name, rel in imports_of(path) if not rel}
    foreign = sorted(m for m in imported - mine - set(sys.stdlib_module_names) if m not in provided)
    assert foreign == [], f"imported by the shipped code but installed by nobody: {foreign}"
    # and nothing in requirements.txt is unused
    assert [n for n in ours if IMPORT_NAMES.get(n, n.replace("-", "_")) not in imported] == []
