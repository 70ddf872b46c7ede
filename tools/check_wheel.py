#!/usr/bin/env python
"""Build the sdist and wheel, check their contents and metadata, install the wheel into a fresh
virtual environment with only its declared runtime dependencies, and run the README's example and
an import of every module there.

    python tools/check_wheel.py                 # build, install, run; ends 'N passed, N failed'
    python tools/check_wheel.py --keep          # keep the temporary directory (printed)
    python tools/check_wheel.py --wheel W.whl   # test a wheel that is already built (no build step)
    python tools/check_wheel.py --python python3.13   # the fresh environment's interpreter
    make check-wheel                            # this, from .venv-build (build + twine only)

What it checks:
- `python -m build` (the sdist, then the wheel built from the sdist, so the sdist is complete);
- the wheel: exactly the package's modules, py.typed, LICENSE in the dist-info, nothing else;
- the metadata: name, version, summary and runtime requirements = settings.ini's; License-Expression
  Apache-2.0 with License-File LICENSE and no license classifier; Requires-Python; the project URLs;
  the classifiers (Development Status = settings.ini's `status`, Python versions, Typing :: Typed);
  the long description = README.md (markdown) with its relative links made absolute;
- `twine check --strict` when twine is installed (what PyPI would say);
- the sdist: LICENSE, CHANGELOG.md, README.md, settings.ini, setup.py, MANIFEST.in, py.typed and
  every module; no notebooks, tools, benchmarks or venvs;
- a fresh venv: `pip install <wheel>` resolves, `pip check` passes, and nothing is installed but
  the declared dependencies (and theirs);
- the README's first ```python block prints the output the README shows (numbers to 1e-4);
- every module imports from the fresh venv (not the repo), and py.typed is installed.

Needs `build` in the running interpreter (`make check-wheel` makes .venv-build with it). The
dependencies come from pip's cache or the package index (~1-3 minutes with a warm cache).
"""

from __future__ import annotations

import argparse
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RTOL = 1e-4  # README numbers: relative tolerance (other jax versions round float32 differently)


class Checks:
    def __init__(self):
        self.passed, self.failed, self.t0 = 0, [], time.perf_counter()

    def ok(self, cond: bool, what: str, detail: str = ''):
        if cond:
            self.passed += 1
            print(f"PASS {what}", flush=True)
        else:
            self.failed.append(what)
            print(
                f"FAIL {what}"
                + (f"\n{textwrap.indent(detail.rstrip(), '     ')}" if detail else ''),
                flush=True,
            )
        return cond


def step(msg: str):
    print(f"--- {msg}", flush=True)
    return time.perf_counter()


def run(cmd, *, cwd=None, env=None, check=True, capture=True, timeout=1800):
    r = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        text=True,
        timeout=timeout,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
    )
    if check and r.returncode:
        out = (r.stdout or '')[-4000:]
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{out}")
    return r


def settings() -> dict:
    from configparser import ConfigParser

    cp = ConfigParser(delimiters=['='])
    cp.read(ROOT / 'settings.ini', encoding='utf-8')
    return dict(cp['DEFAULT'])


def readme_example(text: str) -> tuple[str, list[str]]:
    "The first ```python block of the README and the output shown right after it."
    m = re.search(r"^```+ ?python[^\n]*\n(.*?)^```+[ \t]*\n", text, re.S | re.M)
    if not m:
        raise SystemExit("README.md has no ```python block")
    code, rest = m.group(1), text[m.end() :].split('\n')
    out, i = [], 0
    while i < len(rest) and not rest[i].strip():
        i += 1
    if i < len(rest) and rest[i].startswith('```'):  # a fenced output block
        i += 1
        while i < len(rest) and not rest[i].startswith('```'):
            out.append(rest[i])
            i += 1
    else:  # an indented output block (what nbdev writes)
        while i < len(rest) and (rest[i].startswith('    ') or not rest[i].strip()):
            out.append(rest[i][4:])
            i += 1
    while out and not out[-1].strip():
        out.pop()
    return code, out


NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|nan)")


def same_output(got: list[str], want: list[str]) -> tuple[bool, str]:
    "Line by line: the same text around the numbers, and the numbers equal to RTOL."
    got = [g.rstrip() for g in got if g.strip()]
    want = [w.rstrip() for w in want if w.strip()]
    if len(got) != len(want):
        return False, f"{len(got)} lines printed, README shows {len(want)}"
    for g, w in zip(got, want):
        if NUM.sub('#', g) != NUM.sub('#', w):
            return False, f"printed {g!r}, README shows {w!r}"
        for a, b in zip(map(float, NUM.findall(g)), map(float, NUM.findall(w))):
            if not (a == b or abs(a - b) <= RTOL * max(abs(a), abs(b))):
                return False, f"printed {g!r}, README shows {w!r} (rtol {RTOL})"
    return True, ''


def check_archives(C: Checks, dist: Path, cfg: dict) -> Path:
    wheels, sdists = sorted(dist.glob('*.whl')), sorted(dist.glob('*.tar.gz'))
    lib = cfg['lib_name']
    C.ok(len(wheels) == 1, f"one wheel built: {[w.name for w in wheels]}")
    wheel = wheels[0]
    names = zipfile.ZipFile(wheel).namelist()
    print(f"     {wheel.name}: {wheel.stat().st_size / 1024:.0f} KiB, {len(names)} files")
    mods = sorted(n for n in names if n.startswith(f'{lib}/') and n.endswith('.py'))
    src = sorted(f'{lib}/{p.name}' for p in (ROOT / lib).glob('*.py'))
    C.ok(
        mods == src,
        f"wheel has the package's {len(src)} modules",
        f"missing {sorted(set(src) - set(mods))}, extra {sorted(set(mods) - set(src))}",
    )
    C.ok(f'{lib}/_modidx.py' in names, "wheel has _modidx.py")
    C.ok(f'{lib}/py.typed' in names, "wheel has py.typed")
    lic = [n for n in names if '.dist-info/' in n and n.rsplit('/', 1)[-1].startswith('LICENSE')]
    C.ok(bool(lic), f"wheel has LICENSE in dist-info: {lic}")
    stray = [
        n
        for n in names
        if not (n.startswith(f'{lib}/') or '.dist-info/' in n)
        or re.search(r'(^|/)(tests?|nbs|bench|experiments|tools|scratch)/|\.ipynb$|__pycache__', n)
    ]
    C.ok(not stray, "wheel has no tests, notebooks or other files", f"{stray}")
    meta_name = next(n for n in names if n.endswith('.dist-info/METADATA'))
    meta = email.parser.Parser().parsestr(zipfile.ZipFile(wheel).read(meta_name).decode())
    reqs = sorted(
        r.split(';')[0].strip() for r in meta.get_all('Requires-Dist') or [] if 'extra ==' not in r
    )
    want = sorted(cfg.get('requirements', '').split())
    C.ok(reqs == want, f"runtime requirements are settings.ini's: {reqs}", f"expected {want}")
    C.ok(meta.get('Version') == cfg['version'], f"version {meta.get('Version')} = settings.ini's")
    check_metadata(C, meta, cfg)
    C.ok(len(sdists) == 1, f"one sdist built: {[s.name for s in sdists]}")
    if sdists:
        members = tarfile.open(sdists[0]).getnames()
        print(
            f"     {sdists[0].name}: {sdists[0].stat().st_size / 1024:.0f} KiB,"
            f" {len(members)} entries"
        )
        rel = {m.split('/', 1)[1] for m in members if '/' in m}
        need = {'LICENSE', 'README.md', 'CHANGELOG.md', 'settings.ini', 'setup.py', 'MANIFEST.in'}
        need |= {f'{lib}/py.typed'} | set(src)
        C.ok(
            need <= rel,
            f"sdist has LICENSE, CHANGELOG.md, README.md, settings.ini, setup.py, MANIFEST.in,"
            f" py.typed and the {len(src)} modules",
            f"missing {sorted(need - rel)}",
        )
        stray = sorted(
            m for m in rel if re.search(r'^(nbs|tools|bench|experiments|scratch|\.venv[^/]*)/', m)
        )
        C.ok(not stray, "sdist has no notebooks, tools, benchmarks or venvs", f"{stray[:20]}")
    return wheel


def check_metadata(C: Checks, meta, cfg: dict):
    "The wheel's METADATA against settings.ini and README.md."
    lib, home = cfg['lib_name'], cfg['doc_host'] + cfg['doc_baseurl']
    git = cfg['git_url']
    print(
        f"     License-Expression: {meta.get('License-Expression')}; License: {meta.get('License')}"
        f"; License-File: {meta.get_all('License-File')}; Requires-Python:"
        f" {meta.get('Requires-Python')}; Metadata-Version: {meta.get('Metadata-Version')}"
    )
    classifiers = meta.get_all('Classifier') or []
    for c in classifiers:
        print(f"     Classifier: {c}")
    C.ok(meta.get('Name') == lib, f"name {meta.get('Name')}")
    C.ok(meta.get('Summary') == cfg['description'], "summary = settings.ini's description")
    C.ok(
        meta.get('License-Expression') == 'Apache-2.0'
        and meta.get_all('License-File') == ['LICENSE']
        and not any(c.startswith('License ::') for c in classifiers),
        "license: License-Expression Apache-2.0, License-File LICENSE, no license classifier",
        f"License-Expression {meta.get('License-Expression')!r}, License-File"
        f" {meta.get_all('License-File')}, {[c for c in classifiers if c.startswith('License')]}",
    )
    C.ok(
        meta.get('Requires-Python') == f">={cfg['min_python']}",
        f"Requires-Python >={cfg['min_python']}",
    )
    urls = dict(u.split(', ', 1) for u in meta.get_all('Project-URL') or [])
    for k, v in urls.items():
        print(f"     Project-URL: {k}, {v}")
    want_urls = {
        'Homepage': home,
        'Documentation': home,
        'Source': git,
        'Issues': f"{git}/issues",
        'Changelog': f"{git}/blob/{cfg['branch']}/CHANGELOG.md",
    }
    C.ok(urls == want_urls, f"project URLs: {', '.join(urls)}", f"{urls}, expected {want_urls}")
    py = '3.9 3.10 3.11 3.12 3.13'.split()
    want_cls = {
        f"Development Status :: {cfg['status']} - ",
        'Intended Audience :: Developers',
        'Programming Language :: Python :: 3 :: Only',
        'Typing :: Typed',
        'Operating System :: OS Independent',
    } | {f'Programming Language :: Python :: {v}' for v in py[py.index(cfg['min_python']) :]}
    missing = sorted(w for w in want_cls if not any(c.startswith(w) for c in classifiers))
    status = [c for c in classifiers if c.startswith('Development Status')]
    C.ok(
        not missing and len(status) == 1,
        f"classifiers: {status}, Python {cfg['min_python']}+, Typed, OS Independent",
        f"missing {missing}; status settings.ini {cfg['status']}, classifier {status}",
    )
    # the long description is README.md, with relative links made absolute (setup.py)
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    desc = meta.get_payload()
    norm = lambda t: t.replace(f"]({home}/", '](').strip()
    relative = re.findall(r'\]\((?![a-z][a-z0-9+.-]*:|#|/)[^)\s]+\)', desc)
    C.ok(
        meta.get('Description-Content-Type') == 'text/markdown'
        and norm(desc) == norm(readme)
        and not relative,
        "long description: README.md as markdown, its relative links made absolute",
        f"content type {meta.get('Description-Content-Type')!r}, same text"
        f" {norm(desc) == norm(readme)}, relative links left {relative[:5]}",
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--wheel', type=Path, help='test this wheel instead of building one')
    ap.add_argument(
        '--python',
        default=None,
        help="interpreter of the fresh environment (default: this one's base)",
    )
    ap.add_argument('--keep', action='store_true', help='keep the temporary directory')
    ap.add_argument(
        '--no-isolation',
        action='store_true',
        help="build with this environment's setuptools (faster, no download)",
    )
    args = ap.parse_args(argv)
    C, cfg = Checks(), settings()
    tmp = Path(tempfile.mkdtemp(prefix='check_wheel_'))
    print(f"temporary directory: {tmp}")
    times = {}
    if True:
        # 1. build (sdist, then the wheel from it) and look inside
        if args.wheel:
            dist = tmp / 'dist'
            dist.mkdir()
            shutil.copy(args.wheel, dist)
        else:
            t = step("build sdist + wheel (python -m build)")
            cmd = [sys.executable, '-m', 'build', '--outdir', tmp / 'dist']
            r = run(cmd + (['--no-isolation'] if args.no_isolation else []) + [ROOT], check=False)
            warns = sorted(
                {
                    l.strip()
                    for l in r.stdout.splitlines()
                    if re.search(r'warn|deprecat', l, re.I) and 'byte-compil' not in l
                }
            )
            for w in warns:
                print(f"     build: {w[:200]}")
            C.ok(r.returncode == 0, "python -m build", r.stdout[-3000:])
            if r.returncode:
                return report(C, times, tmp, args.keep)
            times['build'] = time.perf_counter() - t
        wheel = (
            check_archives(C, tmp / 'dist', cfg)
            if not args.wheel
            else next((tmp / 'dist').glob('*.whl'))
        )
        try:  # what PyPI would say about the metadata and the long description
            import twine  # noqa: F401

            dists = sorted((tmp / 'dist').iterdir())
            r = run([sys.executable, '-m', 'twine', 'check', '--strict', *dists], check=False)
            C.ok(r.returncode == 0, "twine check --strict", r.stdout[-2000:])
        except ImportError:
            print("     twine check: not run (no twine here; `make check-wheel` installs it)")

        # 2. a fresh environment with the wheel and its declared dependencies only
        t = step("fresh venv + pip install <wheel> (declared dependencies only)")
        base = args.python or getattr(sys, '_base_executable', None) or sys.executable
        run([base, '-m', 'venv', tmp / 'venv'])
        py = tmp / 'venv' / 'bin' / 'python'
        env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
        env.update(JAX_PLATFORMS='cpu', PIP_DISABLE_PIP_VERSION_CHECK='1')
        # --no-compile: byte-compiling jax and scipy's files took most of the install time
        r = run(
            [py, '-m', 'pip', 'install', '--quiet', '--no-compile', wheel], env=env, check=False
        )
        C.ok(r.returncode == 0, f"pip install {wheel.name}", r.stdout[-3000:])
        if r.returncode:
            return report(C, times, tmp, args.keep)
        r = run([py, '-m', 'pip', 'check'], env=env, check=False)
        C.ok(r.returncode == 0, "pip check", r.stdout)
        listed = run([py, '-m', 'pip', 'list', '--format=freeze'], env=env).stdout.split()
        print(f"     installed: {' '.join(listed)}")
        # nothing but the declared dependencies and theirs (and the venv's own pip/setuptools)
        closure = textwrap.dedent(f"""
            import re
            from importlib.metadata import distribution, distributions
            norm = lambda n: re.sub(r'[-_.]+', '-', n).lower()
            seen, todo = set(), ['{cfg['lib_name']}']
            while todo:
                d = distribution(todo.pop())
                seen.add(norm(d.metadata['Name']))
                for r in d.requires or []:
                    if 'extra ==' not in r:
                        n = norm(re.match(r'[A-Za-z0-9_.-]+', r).group(0))
                        if n not in seen:
                            todo.append(n)
            extra = {{norm(d.metadata['Name']) for d in distributions()}} - seen
            print(' '.join(sorted(extra - {{'pip', 'setuptools', 'wheel'}})))
            """)
        r = run([py, '-c', closure], env=env, check=False)
        C.ok(
            r.returncode == 0 and not r.stdout.strip(),
            "the fresh venv has only the wheel, its declared dependencies and theirs",
            r.stdout[-2000:],
        )
        times['venv + install'] = time.perf_counter() - t

        # 3. the README's example, printed output = the README's output block
        t = step("README example (first ```python block) in the fresh environment")
        code, want = readme_example((ROOT / 'README.md').read_text(encoding='utf-8'))
        work = tmp / 'work'  # outside the repo, so `import spectral_losses` is the installed one
        work.mkdir()
        (work / 'readme_example.py').write_text(code)
        r = run([py, 'readme_example.py'], cwd=work, env=env, check=False)
        printed = [l for l in r.stdout.splitlines() if not l.startswith(('WARNING', 'W0', 'I0'))]
        print(textwrap.indent('\n'.join(printed), '     | '))
        same, why = same_output(printed, want)
        C.ok(
            r.returncode == 0 and same,
            "README example runs and prints the README's output",
            why if r.returncode == 0 else r.stdout[-3000:],
        )
        times['README example'] = time.perf_counter() - t

        # 4. every public module imports from the installed wheel
        t = step("import every module of the installed package")
        probe = textwrap.dedent(f"""
            import importlib, pkgutil, sys, time, os
            t0 = time.perf_counter()
            import {cfg['lib_name']} as pkg
            print('location', os.path.dirname(pkg.__file__))
            here = os.path.dirname(pkg.__file__)
            print('py.typed', os.path.exists(os.path.join(here, 'py.typed')))
            for m in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)):
                t = time.perf_counter()
                try:
                    mod = importlib.import_module(pkg.__name__ + '.' + m)
                    missing = [n for n in getattr(mod, '__all__', []) if not hasattr(mod, n)]
                    status = 'ok' if not missing else 'missing from __all__: ' + ', '.join(missing)
                    n = len(getattr(mod, '__all__', []))
                except Exception as e:
                    status, n = 'error: ' + repr(e)[:300], 0
                print('module', m, status, n, f'{{time.perf_counter() - t:.2f}}', sep='\t')
            print('total', f'{{time.perf_counter() - t0:.2f}}')
            """)
        r = run([py, '-c', probe], cwd=work, env=env, check=False)
        lines = r.stdout.splitlines()
        loc = next((l.split(' ', 1)[1] for l in lines if l.startswith('location ')), '')
        C.ok(loc.startswith(str(tmp / 'venv')), f"imported from the fresh venv: {loc}", r.stdout)
        C.ok('py.typed True' in lines, "py.typed installed")
        mods = [l.split('\t') for l in lines if l.startswith('module\t')]
        for _, m, status, n, dt in mods:
            public = not m.startswith('_')
            C.ok(
                status == 'ok',
                f"import {cfg['lib_name']}.{m} ({dt}s"
                + (f", {n} public names)" if public else ")"),
                status,
            )
        C.ok(len(mods) > 0 and r.returncode == 0, f"{len(mods)} modules found", r.stdout[-2000:])
        times['imports'] = time.perf_counter() - t
    return report(C, times, tmp, args.keep)


def report(C: Checks, times: dict, tmp: Path, keep: bool) -> int:
    total = time.perf_counter() - C.t0
    print(
        "\ntimes: " + ', '.join(f"{k} {v:.0f}s" for k, v in times.items()) + f"; total {total:.0f}s"
    )
    if keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if C.failed:
        print("failed: " + '; '.join(C.failed))
    print(f"{C.passed} passed, {len(C.failed)} failed")
    return 1 if C.failed else 0


if __name__ == '__main__':
    sys.exit(main())
