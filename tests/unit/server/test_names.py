from unittest import mock

from server.names import PeerNames, parse_routes

# /proc/net/route of a container on a Docker network 172.17.0.0/16 whose gateway (the host) is 172.17.0.1.
CONTAINER_ROUTES = [
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
    "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0",
    "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
]


def test_routes_give_connected_networks_and_gateways():
    networks, gateways = parse_routes(CONTAINER_ROUTES)
    assert [str(n) for n in networks] == ["172.17.0.0/16"]
    assert [str(g) for g in gateways] == ["172.17.0.1"]


def test_only_containers_on_our_own_networks_are_looked_up():
    names = PeerNames(True, CONTAINER_ROUTES)
    assert names.worth_looking_up("172.17.0.5")  # another container
    assert not names.worth_looking_up("172.17.0.1")  # the host: its lookup would leave the lab
    assert not names.worth_looking_up("10.1.2.3")  # routed from elsewhere
    assert not names.worth_looking_up("127.0.0.1")
    assert not names.worth_looking_up("::1")
    assert not PeerNames(False, CONTAINER_ROUTES).worth_looking_up("172.17.0.5")


def test_a_peer_outside_is_never_resolved():
    with mock.patch("socket.getnameinfo") as lookup:
        assert PeerNames(True, CONTAINER_ROUTES).name_of("172.17.0.1", 5000) is None
    lookup.assert_not_called()


def test_a_container_peer_is_resolved_and_a_missing_record_is_no_name():
    names = PeerNames(True, CONTAINER_ROUTES)
    with mock.patch("socket.getnameinfo", return_value=("client-1.lab", "5000")):
        assert names.name_of("172.17.0.5", 5000) == "client-1.lab"
    with mock.patch("socket.getnameinfo", side_effect=OSError("no record")):
        assert names.name_of("172.17.0.5", 5000) is None
