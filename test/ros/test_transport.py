"""Tests of fusion_ros.ros.transport: what the node says about the DDS transport carrying its images."""
from fusion_ros.ros.transport import FASTDDS_TRANSPORTS_ENV, LARGE_IMAGES_TRANSPORTS, describe_transport


def test_stock_fast_dds_gets_the_advice_naming_the_variable_and_every_process():
    summary, advice = describe_transport('rmw_fastrtps_cpp', {})
    assert summary == 'rmw_fastrtps_cpp, stock transports'
    assert f"{FASTDDS_TRANSPORTS_ENV}='{LARGE_IMAGES_TRANSPORTS}'" in advice
    assert 'every ROS process' in advice and 'camera drivers' in advice


def test_a_chosen_transport_or_profiles_file_is_reported_without_advice():
    summary, advice = describe_transport('rmw_fastrtps_cpp', {FASTDDS_TRANSPORTS_ENV: ' LARGE_DATA '})
    assert (summary, advice) == (f'rmw_fastrtps_cpp, {FASTDDS_TRANSPORTS_ENV}=LARGE_DATA', None)
    summary, advice = describe_transport('rmw_fastrtps_cpp', {'FASTDDS_DEFAULT_PROFILES_FILE': '/etc/dds.xml'})
    assert advice is None and summary.endswith('FASTDDS_DEFAULT_PROFILES_FILE=/etc/dds.xml')
    # an empty variable is the same as none
    assert describe_transport('rmw_fastrtps_cpp', {FASTDDS_TRANSPORTS_ENV: ''})[1] is not None


def test_other_middlewares_are_left_to_their_own_settings():
    summary, advice = describe_transport('rmw_cyclonedds_cpp', {})
    assert advice is None and summary == 'rmw_cyclonedds_cpp (its own transport settings)'
