#!/usr/bin/env python
"""The docs test: build the site with tools/docs_pandoc.py from a temporary copy of the project and check it.

    python tools/check_docs.py               # build into a temp dir and check (the git tree is not touched)
    python tools/check_docs.py --site _docs  # check an already built site (pages mapped through _proc/)

Checks: every notebook in nbs/ has an HTML page and (with settings.ini `custom_sidebar`) a sidebar entry, and every
sidebar entry a notebook; every public name the library exports (`__all__`, listed in `_modidx.py`) has a show_doc
heading (its `_modidx` anchor) on some page; every `<img src>` and stylesheet a page references exists; every
internal link (`<a href>` without a scheme) resolves to a page, and its `#anchor` to an id on that page; no page
holds a Python traceback or a raw `#|` directive. Docs come from the stored outputs:
only nbdev's processing runs (import, export and show_doc cells). Exit code 1 on any problem."""
import argparse, ast, posixpath, re, shutil, subprocess, sys, tempfile, time
from html import unescape
from pathlib import Path
from urllib.parse import unquote
import yaml
from nbdev.config import get_config
from nbdev.doclinks import nbglob

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
from docs_pandoc import Page  # noqa: E402  (same page naming as the renderer)

LINKS = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"')
REFS = re.compile(r'<(?:img|script)\b[^>]*?\bsrc="([^"]*)"|<link\b[^>]*?\bhref="([^"]*)"')


def exported(cfg):
    "{qualified name: (page, anchor)} for the public top-level names in `__all__`, and the public methods."
    ns = {}
    exec((cfg.lib_path/'_modidx.py').read_text(encoding='utf-8'), ns)
    names, methods = {}, {}
    for mod, syms in ns['d']['syms'].items():
        f = cfg.config_path/mod.replace('.', '/')
        f = f.with_suffix('.py') if f.with_suffix('.py').exists() else f/'__init__.py'
        all_ = next((ast.literal_eval(n.value) for n in ast.parse(f.read_text(encoding='utf-8')).body
                     if isinstance(n, ast.Assign) and any(getattr(t, 'id', '') == '__all__' for t in n.targets)), None)
        for sym, (link, _) in syms.items():
            q = sym[len(mod) + 1:]
            if any(p.startswith('_') and not p.startswith('__') for p in q.split('.')) or q.startswith('_'): continue
            page, _, anchor = link.partition('#')
            if '.' in q: methods[sym] = (page, anchor)
            elif all_ is None or q in all_: names[sym] = (page, anchor)
    return names, methods


def check(cfg, site, proc):
    errs, notes = [], []
    pages = {p.relative_to(site).as_posix(): p.read_text(encoding='utf-8') for p in sorted(site.rglob('*.html'))}
    # 1. a page per notebook
    nbs = sorted(nbglob(cfg.nbs_path, as_path=True))
    for nb in nbs:
        rel = nb.relative_to(cfg.nbs_path)
        if not (proc/rel).exists(): errs.append(f'{rel}: not processed into _proc/'); continue
        html = Page(proc/rel, proc, cfg).html.as_posix()
        if html not in pages: errs.append(f'{rel}: no page {html}')
    print(f'  pages: {len(pages)} HTML pages for {len(nbs)} notebooks')
    if str(cfg.get('custom_sidebar', 'False')).lower() == 'true':
        sb = yaml.safe_load((cfg.nbs_path/'sidebar.yml').read_text(encoding='utf-8'))
        def entries(xs):
            for e in xs:
                if isinstance(e, str): yield e
                else:
                    if e.get('href'): yield e['href']
                    yield from entries(e.get('contents', []))
        listed = set(entries(sb['website']['sidebar']['contents']))
        have = {nb.relative_to(cfg.nbs_path).as_posix() for nb in nbs}
        errs += [f'{n}: not in nbs/sidebar.yml (custom_sidebar = True)' for n in sorted(have - listed)]
        errs += [f'nbs/sidebar.yml: {n} is not a notebook' for n in sorted(listed - have)]
        print(f'  sidebar: {len(listed)} entries checked against the notebooks')
    # 2. an API entry per exported name
    ids = {k: set(re.findall(r'\bid="([^"]+)"', v)) for k, v in pages.items()}
    def has(page, anchor): return anchor in ids.get(page, ()) or any(anchor in s for s in ids.values())
    names, methods = exported(cfg)
    for sym, (page, anchor) in names.items():
        if not has(page, anchor): errs.append(f'{sym}: no API entry (id="{anchor}" expected in {page})')
    print(f'  API: {len(names)} exported names checked: {", ".join(s.rsplit(".", 1)[1] for s in names) or "none"}')
    undoc = [s.rsplit('.', 2)[1] + '.' + s.rsplit('.', 1)[1] for s, (p, a) in methods.items()
             if not has(p, a) and not s.endswith('.__init__')]
    if undoc: notes.append(f'{len(undoc)} public method(s) with no own entry (documented with their class): {", ".join(undoc)}')
    # 3. images and stylesheets exist; 4. no tracebacks or raw directives
    nref = 0
    for rel, text in pages.items():
        for m in REFS.finditer(text):
            src = m[1] or m[2]
            if not src or re.match(r'^(\w+:|//|#)', src): continue
            nref += 1
            if not (site/rel).parent.joinpath(unquote(src.split('#')[0].split('?')[0])).exists():
                errs.append(f'{rel}: missing file {src}')
        if 'Traceback (most recent call last)' in text or 'cell-output-error' in text:
            errs.append(f'{rel}: contains a Python traceback / error output')
        for line in sorted({l.strip()[:80] for l in re.sub(r'<[^>]+>', '', text).splitlines() if '#|' in l}):
            errs.append(f'{rel}: raw directive: {line}')
    print(f'  files: {nref} local img/css references checked')
    nlink = 0
    for rel, text in pages.items():
        for href in LINKS.findall(text):
            href = unescape(href)
            if not href or re.match(r'^(\w+:|//)', href): continue
            nlink += 1
            path, _, anchor = href.partition('#')
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), unquote(path))) if path else rel
            if target not in pages:
                if not (site/target).exists(): errs.append(f'{rel}: broken link {href}')
            elif anchor and unquote(anchor) not in ids[target]:
                errs.append(f'{rel}: link {href}: no id="{anchor}" on {target}')
    print(f'  links: {nlink} internal links checked')
    print('  content: tracebacks and raw #| directives checked')
    for n in notes: print(f'  note: {n}')
    return errs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--site', help='check this already-built site instead of building one')
    a = ap.parse_args(argv)
    cfg = get_config()
    root = cfg.config_path
    with tempfile.TemporaryDirectory(prefix='check_docs_') as td:
        if a.site: site, proc = Path(a.site).absolute(), root/'_proc'
        else:
            t0, src = time.time(), Path(td)/'src'
            src.mkdir()
            shutil.copy2(root/'settings.ini', src)
            skip = shutil.ignore_patterns('.ipynb_checkpoints', '.hypothesis', '__pycache__', '_proc', '_docs')
            for d in (cfg.nbs_path, cfg.lib_path): shutil.copytree(d, src/d.relative_to(root), ignore=skip)
            site, proc = Path(td)/'site', src/'_proc'
            r = subprocess.run([sys.executable, str(TOOLS/'docs_pandoc.py'), '--out', str(site)], cwd=src,
                               capture_output=True, text=True)
            if r.returncode:
                print(r.stdout + r.stderr)
                print('FAILED: the docs did not build'); return 1
            print(f'  built the site from a copy of the project in {time.time() - t0:.1f}s')
        errs = check(cfg, site, proc)
    for e in errs: print(f'  ERROR {e}')
    print(f'FAILED: {len(errs)} problem(s)' if errs else 'docs OK')
    return 1 if errs else 0


if __name__ == '__main__': sys.exit(main())
