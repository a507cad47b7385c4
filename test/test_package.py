"""Packaging: package.xml, setup.py's install layout, the console script, CI wiring, a ROS-free core."""
import ast
import configparser
import os
import re
import runpy
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'fusion_ros'


@pytest.fixture(scope='module')
def setup_kwargs():
    """The keyword arguments setup.py passes to setuptools.setup (captured, nothing is built)."""
    import setuptools
    captured = {}
    original, cwd = setuptools.setup, os.getcwd()
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    try:
        os.chdir(ROOT)  # setup.py globs relative paths
        runpy.run_path(str(ROOT / 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = original
        os.chdir(cwd)
    return captured


@pytest.fixture(scope='module')
def manifest():
    return ET.parse(ROOT / 'package.xml').getroot()


def test_package_xml_is_format_3_ament_python(manifest):
    assert manifest.tag == 'package' and manifest.get('format') == '3'
    assert manifest.findtext('name') == PACKAGE
    assert manifest.findtext('export/build_type') == 'ament_python'
    for tag in ('version', 'description', 'license'):
        assert (manifest.findtext(tag) or '').strip(), tag
    assert manifest.find('maintainer').get('email')
    test_depends = {e.text for e in manifest.findall('test_depend')}
    assert {'ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest'} <= test_depends
    assert {'rclpy', 'sensor_msgs'} <= {e.text for e in manifest.findall('exec_depend')}


def test_setup_py_agrees_with_package_xml(setup_kwargs, manifest):
    assert setup_kwargs['name'] == manifest.findtext('name')
    assert setup_kwargs['version'] == manifest.findtext('version')
    assert setup_kwargs['license'] == manifest.findtext('license')


def test_setup_py_installs_the_ament_layout(setup_kwargs):
    data = dict(setup_kwargs['data_files'])
    assert data['share/ament_index/resource_index/packages'] == [f'resource/{PACKAGE}']
    assert data[f'share/{PACKAGE}'] == ['package.xml']
    for sub in ('launch', 'config', 'models'):
        assert f'share/{PACKAGE}/{sub}' in data, sub
    for files in data.values():
        for f in files:
            assert (ROOT / f).is_file(), f
    assert (ROOT / 'resource' / PACKAGE).is_file()  # the ament index marker


def test_setup_py_packages_cover_every_python_folder(setup_kwargs):
    packages = set(setup_kwargs['packages'])
    folders = {'.'.join(p.parent.relative_to(ROOT).parts) for p in (ROOT / PACKAGE).rglob('*.py')}
    missing = folders - packages
    assert not missing, f'folders with .py files but no __init__.py (not installed): {sorted(missing)}'
    assert not any(p == 'test' or p.startswith('test.') for p in packages)
    assert 'samples/*' in setup_kwargs['package_data'][PACKAGE]


def test_console_script(setup_kwargs):
    assert 'fusion-ros = fusion_ros.cli:main' in setup_kwargs['entry_points']['console_scripts']
    from fusion_ros.cli import main
    installed = [ep for ep in entry_points(group='console_scripts') if ep.name == 'fusion-ros']
    assert installed, 'fusion-ros is not installed: pip install --no-deps -e .'
    assert installed[0].load() is main


def test_setup_cfg_puts_executables_where_ros2_run_looks():
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / 'setup.cfg')
    assert cfg['develop']['script_dir'] == f'$base/lib/{PACKAGE}'
    assert cfg['install']['install_scripts'] == f'$base/lib/{PACKAGE}'


def _make_recipe(target: str) -> list[str]:
    lines = (ROOT / 'Makefile').read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf'^{target}\s*:', line))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith('\t'):
            break
        recipe.append(line.strip())
    return recipe


def test_ci_runs_the_readme_test_command():
    ci = ROOT / '.ci' / 'run'
    assert os.access(ci, os.X_OK), '.ci/run must be executable'
    commands = [line.strip() for line in ci.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith('#')]
    assert commands[-1] == 'make test'
    assert _make_recipe('test') == ['$(BIN)/python -m pytest -q']
    readme = ROOT / 'README.md'
    if readme.exists():  # the README documents `make test` as the test command
        assert re.search(r'^\s*make test\b', readme.read_text(), flags=re.M)


def _imported_modules(path: Path) -> set[str]:
    """Modules imported when ``path`` is imported: every import outside function bodies (a command that
    needs ROS may import it lazily, inside its ``run``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        todo.extend(ast.iter_child_nodes(node))
    return names


def test_core_does_not_import_ros():
    core = [p for p in (ROOT / PACKAGE).rglob('*.py') if 'ros' not in p.relative_to(ROOT / PACKAGE).parts[:1]]
    assert len(core) > 20
    offenders = {}
    for path in core:
        ros = {m for m in _imported_modules(path)
               if m.split('.')[0] in ('rclpy', 'cv_bridge', 'message_filters', 'launch', 'launch_ros')
               or m.split('.')[0].endswith('_msgs') or m.split('.')[0].endswith('_srvs')}
        if ros:
            offenders[str(path.relative_to(ROOT))] = sorted(ros)
    assert not offenders, f'ROS imports outside fusion_ros/ros/: {offenders}'


def test_the_import_scan_sees_module_level_ros_imports(tmp_path):
    probe = tmp_path / 'probe.py'
    probe.write_text('import rclpy\n'
                     'try:\n    from sensor_msgs.msg import Image\nexcept ImportError:\n    pass\n'
                     'class A:\n    import std_msgs\n'
                     'def run():\n    import vision_msgs\n')
    assert _imported_modules(probe) == {'rclpy', 'sensor_msgs.msg', 'std_msgs'}
