#!/usr/bin/env python
"""Quarto-free docs site: nbdev's own processing into `_proc/`, then notebook -> pandoc Markdown -> HTML.

    python tools/docs_pandoc.py                # process notebooks into _proc/, render the site into _docs/
    python tools/docs_pandoc.py --no-proc      # re-render from the existing _proc/
    python tools/docs_pandoc.py --out DIR      # render into DIR instead of settings.ini doc_path
    python tools/docs_pandoc.py --readme       # write README.md (GitHub markdown) from the index notebook

Pages show the outputs stored in the notebooks (only the import, export and show_doc cells are run, by nbdev's
processing, exactly as for `nbdev_docs`). Honours the Quarto cell options nbdev emits: echo, output (false/asis),
include, code-fold, warning, fig-cap. Output is byte-deterministic. Needs pandoc (pypandoc-binary or on PATH)."""
import argparse, html, json, os, re, shutil, subprocess, sys, tempfile
from base64 import b64decode
from pathlib import Path
import yaml
from nbdev.config import get_config
from nbdev.doclinks import _nbpath2html

DIREC = re.compile(r'^#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
FRONT = re.compile(r'^\s*---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)', re.S)  # a YAML block at the start of a cell
ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
NBLINK = re.compile(r'\]\((?!\w+:|#|/)([^)\s#]+?\.(?:ipynb|qmd))((?:#[^)\s]*)?)\)')  # relative page links
IMGS = (('image/svg+xml', 'svg'), ('image/png', 'png'), ('image/jpeg', 'jpg'))


def pandoc_bin():
    try:
        import pypandoc
        return pypandoc.get_pandoc_path()
    except Exception: return shutil.which('pandoc') or sys.exit('docs_pandoc: pandoc not found (pip install pypandoc-binary)')


def run_proc(cfg):
    "`nbdev_proc_nbs` without the Quarto install attempt and `pip install` side effect; nbs/ is left as it was."
    import nbdev.doclinks
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    root = str(cfg.config_path)
    sys.path.insert(0, root)  # notebooks import the library even when it is not pip-installed
    os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [root, os.environ.get('PYTHONPATH')]))
    gen = [cfg.nbs_path/n for n in ('nbdev.yml', '_quarto.yml', 'sidebar.yml')]  # generated into nbs/ by nbdev
    saved = {p: p.read_bytes() if p.exists() else None for p in gen}
    try:
        refresh_quarto_yml()
        nbdev.doclinks._build_modidx()
        nbdev_sidebar.__wrapped__(path=cfg.nbs_path)  # default file_re (the nbdev_proc_nbs CLI passes '')
        return proc_nbs(cfg.nbs_path, n_workers=2, force=True)  # copies them into _proc/
    finally:  # put nbs/ back exactly as it was, so the git tree stays clean
        for p, b in saved.items():
            if b is None: p.unlink(missing_ok=True)
            elif p.read_bytes() != b: p.write_bytes(b)


def txt(x): return ''.join(x) if isinstance(x, list) else (x or '')


def directives(src):
    "Leading `#| key: value` lines -> dict, and the rest of the source."
    d, lines = {}, src.splitlines()
    while lines and (m := DIREC.match(lines[0])): d[m[1].lower()] = m[2].strip('"\''); lines.pop(0)
    return d, '\n'.join(lines).strip('\n')


def fence(text, attrs=''):
    "A fenced code block, with a fence longer than any backtick run inside `text`."
    n = max([3] + [len(r) + 1 for r in re.findall(r'`{3,}', text)])
    return f"{'`' * n}{' ' + attrs if attrs else ''}\n{text.rstrip()}\n{'`' * n}"


class Page:
    "One notebook (or .md/.qmd file) from `_proc`, converted to pandoc Markdown."
    def __init__(self, src, proc, cfg):
        self.src, self.cfg, self.rel = src, cfg, src.relative_to(proc)
        self.meta, self.cells = {}, []
        if src.suffix == '.ipynb': self.cells = json.loads(src.read_text(encoding='utf-8'))['cells']
        else: self.cells = [dict(cell_type='markdown', source=src.read_text(encoding='utf-8'))]
        for c in self.cells:  # front matter: nbdev's raw cell, or a YAML block opening a markdown cell
            if c['cell_type'] == 'code' or not (m := FRONT.match(txt(c['source']))): continue
            try: fm = yaml.safe_load(m[1])
            except yaml.YAMLError: continue
            if isinstance(fm, dict): self.meta.update(fm); c['source'] = txt(c['source'])[m.end():]
        out = self.meta.get('output-file')
        self.html = self.rel.with_name(out) if out else _nbpath2html(self.rel)
        self.title = str(self.meta.get('title') or self.rel.stem)
        self.up = '../' * (len(self.html.parts) - 1)  # from this page to the site root

    def links(self, md, gfm):
        "Relative .ipynb/.qmd links -> .html pages; doc-site links -> relative (site) or absolute (README)."
        site = (self.cfg.doc_host + self.cfg.doc_baseurl).rstrip('/') + '/'
        def f(m): return f'](' + (site if gfm else '') + _nbpath2html(Path(m[1])).as_posix() + m[2] + ')'
        md = NBLINK.sub(f, md)
        return md if gfm else md.replace(site, self.up or './')

    def output(self, o, d, imgdir, name, gfm):
        "Markdown for one output; images are written to `imgdir`/`name`.<ext>."
        def block(s, cls):
            s = fence(ANSI.sub('', s).rstrip('\n'))
            return s if gfm else f'::: {{.cell-output .{cls}}}\n{s}\n:::'
        asis, t = d.get('output', '').lower() == 'asis', o['output_type']
        if t == 'stream':
            if o.get('name') == 'stderr' and d.get('warning', '').lower() == 'false': return ''
            return txt(o['text']) if asis else block(txt(o['text']), 'cell-output-' + o.get('name', 'stdout'))
        if t == 'error': return block('\n'.join(o.get('traceback') or [f"{o['ename']}: {o['evalue']}"]), 'cell-output-error')
        data, meta = o.get('data', {}), o.get('metadata', {})
        if 'text/html' in data:
            h = fence(txt(data['text/html']), '{=html}')
            return h if gfm else f'::: {{.cell-output .cell-output-display}}\n{h}\n:::'
        if 'text/markdown' in data:
            md = self.links(txt(data['text/markdown']), gfm)
            return md if asis or gfm else f'::: {{.cell-output .cell-output-display}}\n{md}\n:::'
        if 'text/latex' in data: return txt(data['text/latex'])
        for mime, ext in IMGS:
            if mime not in data: continue
            imgdir.mkdir(parents=True, exist_ok=True)
            fn = imgdir/f'{name}.{ext}'
            if ext == 'svg': fn.write_text(txt(data[mime]), encoding='utf-8')
            else: fn.write_bytes(b64decode(txt(data[mime])))
            w = (meta.get(mime) or {}).get('width')
            cap = d.get('fig-cap', '')
            img = f'![{cap}]({imgdir.name}/{fn.name})' + (f'{{width={w}}}' if w else '')
            return img if gfm else f'::: {{.cell-output .cell-output-display}}\n{img}\n:::'
        if 'text/plain' in data: return txt(data['text/plain']) if asis else block(txt(data['text/plain']), 'cell-output-display')
        return ''

    def markdown(self, outdir, gfm=False):
        "The page body as pandoc Markdown; image outputs are written next to the page in `outdir`."
        imgdir = outdir/self.html.parent/f'{self.html.stem}_files'
        shutil.rmtree(imgdir, ignore_errors=True)
        parts = []
        for i, c in enumerate(self.cells):
            if c['cell_type'] != 'code':
                parts.append(self.links(txt(c['source']), gfm)); continue
            d, src = directives(txt(c['source']))
            if d.get('include', '').lower() == 'false': continue
            cell = []
            if d.get('echo', '').lower() != 'false' and src.strip():
                code = fence(src, 'python' if gfm else '{.python .cell-code}')
                fold = d.get('code-fold', '').lower()
                if fold in ('true', 'show') and not gfm:
                    code = (f"<details{' open' if fold == 'show' else ''}>\n<summary>{html.escape(d.get('code-summary', 'Code'))}"
                            f"</summary>\n\n{code}\n\n</details>")
                cell.append(code)
            if d.get('output', '').lower() != 'false':
                cell += [self.output(o, d, imgdir, f'cell-{i}-output-{j}', gfm) for j, o in enumerate(c.get('outputs', []))]
            cell = [p for p in cell if p.strip()]
            if not cell: continue
            asis = d.get('output', '').lower() == 'asis'
            parts.append('\n\n'.join(cell) if gfm or asis else '::: {.cell}\n' + '\n\n'.join(cell) + '\n:::')
        return '\n\n'.join(p.strip('\n') for p in parts if p.strip()) + '\n'


def yaml_block(meta): return '---\n' + ''.join(f'{k}: {json.dumps(v, ensure_ascii=False)}\n' for k, v in meta.items()) + '---\n\n'


def nav_html(page, pages, sidebar, cfg):
    "The left sidebar: site title, then the pages in `sidebar.yml` order, the current one marked."
    by_src = {p.rel.as_posix(): p for p in pages}
    def link(href, text=None):
        p = by_src.get(str(href))
        if p is None: return ''
        cur = ' class="active" aria-current="page"' if p is page else ''
        return f'<a href="{page.up}{p.html.as_posix()}"{cur}>{html.escape(str(text or p.title))}</a>'
    def item(e):
        if isinstance(e, str): e = {'href': e}
        if 'section' not in e: return f'<li>{a}</li>' if (a := link(e.get('href'), e.get('text'))) else ''
        head = link(e['href'], e['section']) if e.get('href') else f'<span>{html.escape(str(e["section"]))}</span>'
        return f'<li class="section">{head}<ul>' + ''.join(item(x) for x in e.get('contents', [])) + '</ul></li>'
    entries = (sidebar.get('website') or {}).get('sidebar', {}).get('contents') or [p.rel.as_posix() for p in pages]
    return (f'<nav id="sidebar">\n<a class="site-title" href="{page.up}index.html">{html.escape(cfg.title)}</a>\n'
            f'<ul>{"".join(item(e) for e in entries)}</ul>\n'
            f'<a class="repo-link" href="{html.escape(cfg.git_url)}">Source code</a>\n</nav>\n')


def pandoc(args, md, bin_):
    r = subprocess.run([bin_, *args], input=md, capture_output=True, text=True, encoding='utf-8')
    if r.returncode: sys.exit(f'pandoc failed ({r.returncode}): {r.stderr}')
    if r.stderr.strip(): print(r.stderr.strip(), file=sys.stderr)


def build_site(cfg, proc, out, bin_):
    pages = sorted((Page(f, proc, cfg) for f in proc.rglob('*') if f.suffix in ('.ipynb', '.qmd', '.md')
                    and not any(x.startswith(('.', '_')) for x in f.relative_to(proc).parts)), key=lambda p: p.rel.as_posix())
    if not pages: sys.exit(f'docs_pandoc: no pages in {proc}')
    if out.exists():
        if (out/'settings.ini').exists() or (out/'.git').exists() or out in (cfg.config_path, cfg.nbs_path):
            sys.exit(f'docs_pandoc: refusing to wipe {out}')
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for f in sorted(proc.rglob('*')):  # static files (styles.css, images used by markdown cells, ...)
        r = f.relative_to(proc)
        if f.is_file() and f.suffix not in ('.ipynb', '.qmd', '.md', '.yml') and not any(x.startswith('.') for x in r.parts):
            (out/r).parent.mkdir(parents=True, exist_ok=True); shutil.copyfile(f, out/r)
    shutil.copyfile(Path(__file__).with_name('site.css'), out/'site.css')
    sb = proc/'sidebar.yml'
    sidebar = yaml.safe_load(sb.read_text()) if sb.exists() else {}
    with tempfile.TemporaryDirectory() as td:
        navf = Path(td)/'nav.html'
        for p in pages:
            navf.write_text(nav_html(p, pages, sidebar, cfg), encoding='utf-8')
            desc = str(p.meta.get('description') or '')
            meta = {'title': p.title, 'pagetitle': f'{p.title} – {cfg.title}' if p.title != cfg.title else p.title,
                    'toc-title': 'On this page', 'lang': cfg.get('language', 'English')[:2].lower()}
            if desc: meta |= {'subtitle': desc, 'description-meta': desc}
            md = yaml_block(meta) + p.markdown(out)
            css = [f'{p.up}site.css'] + ([f'{p.up}styles.css'] if (out/'styles.css').exists() else [])
            (out/p.html).parent.mkdir(parents=True, exist_ok=True)
            pandoc(['-f', 'markdown', '-t', 'html5', '-s', '--toc', '--toc-depth=3', '--mathml', *[a for c in css for a in ('-c', c)],
                    '-B', str(navf), '-o', str(out/p.html)], md, bin_)
            print(f'wrote {(out/p.html).relative_to(cfg.config_path) if out.is_relative_to(cfg.config_path) else out/p.html}')
    return pages


def build_readme(cfg, proc, bin_):
    "README.md from the index notebook, as GitHub-flavoured markdown (what `nbdev_readme` does with Quarto)."
    if not (proc/cfg.readme_nb).exists(): sys.exit(f'docs_pandoc: no {cfg.readme_nb} in {proc}')
    p = Page(proc/cfg.readme_nb, proc, cfg)
    desc = str(p.meta.get('description') or '')
    md = f'# {p.title}\n\n' + (f'> {desc}\n\n' if desc else '') + p.markdown(cfg.config_path, gfm=True)
    pandoc(['-f', 'markdown', '-t', 'gfm', '--wrap=preserve', '-o', str(cfg.config_path/'README.md')], md, bin_)
    print('wrote README.md')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', help='output directory (default: settings.ini doc_path, _docs)')
    ap.add_argument('--no-proc', action='store_true', help='reuse _proc/ instead of re-processing the notebooks')
    ap.add_argument('--readme', action='store_true', help='only write README.md from the index notebook')
    a = ap.parse_args(argv)
    cfg, bin_ = get_config(), pandoc_bin()
    proc = cfg.config_path/'_proc'
    if not a.no_proc: run_proc(cfg)
    elif not proc.exists(): sys.exit('docs_pandoc: no _proc/ (run without --no-proc)')
    if a.readme: return build_readme(cfg, proc, bin_)
    out = Path(a.out).absolute() if a.out else cfg.doc_path
    build_site(cfg, proc, out, bin_)
    print(f'site: {out/"index.html"}')


if __name__ == '__main__': main()
