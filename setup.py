"""ament_python package: `colcon build` on a ROS 2 machine, `pip install -e .` anywhere else."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'fusion_ros'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench', 'bench.*']),
    package_data={PACKAGE: ['samples/*', 'samples/**/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
        ('share/' + PACKAGE + '/models', glob('models/*.pt') + glob('models/*.json') + glob('models/*.md')),
    ],
    python_requires='>=3.10',
    # numpy/opencv/torch come from rosdep (package.xml) on a robot and from requirements.txt here;
    # listing them here would make pip fight the system packages on a ROS machine.
    install_requires=[],
    zip_safe=True,
    maintainer='fusion_ros maintainers',
    maintainer_email='maintainers@fusion-ros.invalid',
    description='RGB + thermal/NIR image fusion for ROS 2 (per-scene single-example training, SSVIF).',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'fusion-ros = fusion_ros.cli:main',
            # ROS 2 executables (`ros2 run fusion_ros fusion_node`; named by launch/fuse.launch.py)
            'fusion_node = fusion_ros.ros.fusion_node:main',
            'fusion_player = fusion_ros.ros.player:main',
        ],
    },
)
