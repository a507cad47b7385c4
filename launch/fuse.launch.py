"""Launch fusion_node (and optionally a bag player).

    ros2 launch fusion_ros fuse.launch.py namespace:=robot1 rgb_topic:=/camera/color/image_raw \
        thermal_topic:=/thermal/image_raw device:=cuda:0

Arguments: namespace, params_file (default: share/fusion_ros/config/fuse.yaml), rgb_topic, thermal_topic
(remaps of rgb/image and thermal/image; the compressed transport follows as <topic>/compressed),
device, use_sim_time, bag (play this bag to the node; with use_sim_time the player publishes /clock),
dds_transports (FASTDDS_BUILTIN_TRANSPORTS for the processes of this launch, e.g. 'LARGE_DATA?max_msg_size=1MB';
every other process of the robot needs the same value: README, DDS transport for images).
Where `ros2 launch` is missing (ROS 2 from PyPI), `fusion-ros run` does the same from the same YAML.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory('fusion_ros'), 'config', 'fuse.yaml')
    namespace = LaunchConfiguration('namespace')
    rgb_topic = LaunchConfiguration('rgb_topic')
    thermal_topic = LaunchConfiguration('thermal_topic')
    use_sim_time = ParameterValue(LaunchConfiguration('use_sim_time'), value_type=bool)
    bag = LaunchConfiguration('bag')
    arguments = [
        DeclareLaunchArgument('namespace', default_value='', description='namespace of the nodes and topics'),
        DeclareLaunchArgument('params_file', default_value=default_params, description='fusion_node parameters'),
        DeclareLaunchArgument('rgb_topic', default_value='rgb/image', description='RGB image topic'),
        DeclareLaunchArgument('thermal_topic', default_value='thermal/image', description='thermal image topic'),
        DeclareLaunchArgument('device', default_value='auto', description="torch device: auto, cpu, cuda:N"),
        DeclareLaunchArgument('use_sim_time', default_value='false', description='use /clock (bag replay)'),
        DeclareLaunchArgument('bag', default_value='', description='a rosbag2 bag to play to the node'),
        DeclareLaunchArgument('dds_transports', default_value='',
                              description="FASTDDS_BUILTIN_TRANSPORTS for this launch's processes (default: "
                                          "the environment's); the camera drivers need the same value"),
    ]
    dds_transports = LaunchConfiguration('dds_transports')
    transports = SetEnvironmentVariable(
        'FASTDDS_BUILTIN_TRANSPORTS', dds_transports,
        condition=IfCondition(PythonExpression(["'", dds_transports, "' != ''"])))
    fusion = Node(
        package='fusion_ros', executable='fusion_node', name='fusion_node', namespace=namespace,
        parameters=[LaunchConfiguration('params_file'),
                    {'device': LaunchConfiguration('device'), 'use_sim_time': use_sim_time}],
        remappings=[('rgb/image', rgb_topic), ('thermal/image', thermal_topic)],
        output='screen', emulate_tty=True)
    player = Node(
        package='fusion_ros', executable='fusion_player', name='fusion_player', namespace=namespace,
        condition=IfCondition(PythonExpression(["'", bag, "' != ''"])),
        parameters=[{'bag': bag, 'clock': use_sim_time}],
        remappings=[('/rgb/image', rgb_topic), ('/thermal/image', thermal_topic)],
        output='screen')
    return LaunchDescription(arguments + [transports, fusion, player])
