"""`colcon build` of the package gives the layout a ROS 2 robot uses (executables, share/, ament index)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLCON = shutil.which('colcon') or str(Path(sys.executable).parent / 'colcon')

pytestmark = pytest.mark.skipif(not Path(COLCON).exists(), reason='colcon not installed (pip install -r requirements.txt)')


def _tracked_files() -> list[str]:
    out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [f for f in out.splitlines() if (ROOT / f).is_file()]


@pytest.fixture(scope='module')
def install(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp('ws')
    src = ws / 'src' / 'fusion_ros'
    for rel in _tracked_files():
        dst = src / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dst)
    proc = subprocess.run([COLCON, 'build', '--base-paths', 'src'], cwd=ws, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return ws / 'install' / 'fusion_ros'


def test_executables_under_lib_package(install):
    exe = install / 'lib' / 'fusion_ros' / 'fusion-ros'
    assert exe.is_file(), sorted(p.name for p in (install / 'lib' / 'fusion_ros').iterdir())


def test_share_holds_package_xml_launch_config(install):
    share = install / 'share' / 'fusion_ros'
    assert (share / 'package.xml').is_file()
    for folder in ('launch', 'config'):
        src_files = sorted(Path(f).name for f in _tracked_files() if Path(f).parent == Path(folder))
        installed = sorted(p.name for p in (share / folder).glob('*')) if (share / folder).is_dir() else []
        assert set(src_files) <= set(installed), (folder, src_files, installed)


def test_ament_index_marker(install):
    assert (install / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'fusion_ros').is_file()


def test_bundled_samples_installed_with_the_python_package(install):
    samples = list(install.glob('lib/python3*/site-packages/fusion_ros/samples/*_rgb.*'))
    assert len(samples) >= 3
