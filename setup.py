from setuptools import setup
from configparser import ConfigParser
import re, setuptools, shlex

# Modelled on the nbdev 2 template; `pkg_resources` is gone from current setuptools,
# so no version assert here.
config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

cfg_keys = 'version description keywords author author_email'.split()
expected = cfg_keys + "lib_name user branch license status min_python audience language".split()
for o in expected: assert o in cfg, "missing expected setting: {}".format(o)
setup_cfg = {o: cfg[o] for o in cfg_keys}

licenses = {  # settings.ini `license` -> (SPDX expression, trove classifier for old setuptools)
    'apache2': ('Apache-2.0', 'OSI Approved :: Apache Software License'),
    'mit': ('MIT', 'OSI Approved :: MIT License'),
    'gpl2': ('GPL-2.0-only', 'OSI Approved :: GNU General Public License v2 (GPLv2)'),
    'gpl3': ('GPL-3.0-only', 'OSI Approved :: GNU General Public License v3 (GPLv3)'),
    'bsd3': ('BSD-3-Clause', 'OSI Approved :: BSD License'),
}
# settings.ini `status` is the classifier's number (3 -> '3 - Alpha'), hence the - 1 below
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable',
            '6 - Mature', '7 - Inactive']
py_versions = '3.9 3.10 3.11 3.12 3.13'.split()  # classifiers: min_python .. 3.13

requirements = shlex.split(cfg.get('requirements', ''))
if cfg.get('pip_requirements'): requirements += shlex.split(cfg.get('pip_requirements', ''))
min_python = cfg['min_python']
dev_requirements = (cfg.get('dev_requirements') or '').split()

# PEP 639: setuptools >= 77 writes `License-Expression` (SPDX) and deprecates the license
# classifiers (a warning, and an error next to a license expression); older setuptools gets the
# classifier.
spdx, lic_classifier = licenses.get(cfg['license'].lower(), (cfg['license'], None))
if int(setuptools.__version__.split('.')[0]) >= 77:
    license_kw, lic_classifiers = dict(license_expression=spdx, license_files=['LICENSE']), []
else:
    license_kw = dict(license=spdx)
    lic_classifiers = ['License :: ' + lic_classifier] if lic_classifier else []

# py.typed (PEP 561) always ships; settings.ini `package_data` may add more
package_data = {cfg['lib_name']: ['py.typed'] + cfg.get('package_data', '').split()}

repo_url = cfg['git_url']  # https://github.com/<user>/<repo>
project_urls = {
    'Homepage': cfg['doc_host'] + cfg['doc_baseurl'],
    'Documentation': cfg['doc_host'] + cfg['doc_baseurl'],
    'Source': repo_url,
    'Issues': repo_url + '/issues',
    'Changelog': repo_url + '/blob/' + cfg['branch'] + '/CHANGELOG.md',
}

# README.md (written by nbdev from nbs/index.ipynb) links the docs pages relatively ("losses.html"),
# which resolve on the docs site but not on a registry page: make them absolute there.
long_description = re.sub(r'\]\((?![a-z][a-z0-9+.-]*:|#|/)([^)\s]+)\)',
                          lambda m: f"]({project_urls['Homepage']}/{m.group(1)})",
                          open('README.md', encoding='utf-8').read())

setuptools.setup(
    name=cfg['lib_name'],
    **license_kw,
    classifiers=['Development Status :: ' + statuses[int(cfg['status']) - 1],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Intended Audience :: Science/Research',
                 'Natural Language :: ' + cfg['language'].title(),
                 'Operating System :: OS Independent',
                 'Programming Language :: Python :: 3',
                 'Programming Language :: Python :: 3 :: Only',
                 ] + ['Programming Language :: Python :: ' + o
                      for o in py_versions[py_versions.index(min_python):]]
                 + lic_classifiers
                 + ['Topic :: Multimedia :: Sound/Audio :: Analysis',
                    'Topic :: Scientific/Engineering',
                    'Topic :: Scientific/Engineering :: Artificial Intelligence',
                    'Typing :: Typed'],
    url=project_urls['Homepage'],
    project_urls=project_urls,
    packages=setuptools.find_packages(include=[cfg['lib_name'], cfg['lib_name'] + '.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    dependency_links=cfg.get('dep_links', '').split(),
    python_requires='>=' + cfg['min_python'],
    long_description=long_description,
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d']
    },
    package_data=package_data,
    **setup_cfg)
