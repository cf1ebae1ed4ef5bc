"""The HDLC link state machines, client and server side, without any IO."""

import pytest

from custom_components.microstar_dlms.dlms.errors import FrameError
from custom_components.microstar_dlms.dlms.hdlc import (
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    ServerAddress,
    client_address,
    decode_frame,
    i_control,
    rnr_control,
    rr_control,
)
from custom_components.microstar_dlms.dlms.hdlc_link import (
    Connected,
    Disconnected,
    FrameRejected,
    HdlcLink,
    HdlcServerLink,
    Ignored,
    InWindow,
    LinkState,
    MessageReceived,
    SendFrame,
    negotiate,
)

from .vectors import DISC_1BYTE, SNRM_1BYTE, SNRM_MALFORMED, UA_VENDOR

SERVER = ServerAddress(1)


def connected_pair(
    client_params: HdlcParameters | None = None, server_caps: HdlcParameters | None = None
) -> tuple[HdlcLink, HdlcServerLink]:
    """Client and server links after SNRM/UA."""
    client = HdlcLink(SERVER, 1, client_params)
    server = HdlcServerLink(SERVER, server_caps)
    (ua,), _ = server.receive(decode_frame(client.connect()))
    assert isinstance(client.receive(decode_frame(ua)), Connected)
    return client, server


def exchange(client: HdlcLink, server: HdlcServerLink, request: bytes, answer: bytes) -> bytes:
    """Run a request/answer through both links, segment by segment; return what the client got."""
    frame = client.send(request)
    for _ in range(1000):
        replies, complete = server.receive(decode_frame(frame))
        if complete is not None:
            assert complete == request
            replies = [server.respond(answer)]
        (reply,) = replies
        event = client.receive(decode_frame(reply))
        if isinstance(event, MessageReceived):
            return event.information
        assert isinstance(event, SendFrame)
        frame = event.data
    raise AssertionError("no end")


def test_connect_and_disconnect_bytes() -> None:
    """The field's SNRM and DISC; UA and DM close the link."""
    link = HdlcLink(SERVER, 1)
    assert link.connect() == SNRM_1BYTE
    assert link.state is LinkState.CONNECTING
    ua = HdlcFrame(client_address(1), SERVER, 0x73)
    assert link.receive(ua) == Connected(HdlcParameters())
    assert link.disconnect() == DISC_1BYTE
    assert link.receive(ua) == Disconnected(FrameKind.UA)
    assert link.state is LinkState.DISCONNECTED


def test_sequence_numbers_wrap_modulo_8() -> None:
    """Ten exchanges: N(S)/N(R) wrap, the field's control bytes appear in order."""
    client, server = connected_pair()
    controls = []
    for n in range(10):
        frame = client.send(b"\xe6\xe6\x00" + bytes([n]))
        controls.append(decode_frame(frame).control)
        _, request = server.receive(decode_frame(frame))
        assert request is not None
        event = client.receive(decode_frame(server.respond(b"\xe6\xe7\x00" + bytes([n]))))
        assert event == MessageReceived(b"\xe6\xe7\x00" + bytes([n]))
    assert controls[:5] == [0x10, 0x32, 0x54, 0x76, 0x98]
    assert controls[8] == 0x10


def test_long_messages_are_segmented_both_ways() -> None:
    """A 1000-byte request and a 3000-byte answer cross 128-byte frames intact."""
    client, server = connected_pair()
    request = bytes(range(256)) * 4
    answer = bytes(reversed(range(256))) * 12
    assert exchange(client, server, request[:1000], answer[:3000]) == answer[:3000]


def test_negotiation_takes_the_smaller_values() -> None:
    """Server capability 256 against a client asking 512: both sides use 256."""
    client, server = connected_pair(HdlcParameters(512, 512), HdlcParameters(256, 256))
    assert client.parameters.max_info_tx == 256
    assert server.parameters.max_info_tx == 256
    assert negotiate(HdlcParameters(64, 1024), HdlcParameters(512, 512)).max_info_tx == 512


def test_retransmitted_request_gets_the_same_answer() -> None:
    """The client's request arrived but the answer was lost: the repeat is answered again."""
    client, server = connected_pair()
    frame = client.send(b"\xe6\xe6\x00\x01")
    _, request = server.receive(decode_frame(frame))
    assert request is not None
    lost = server.respond(b"\xe6\xe7\x00\x02")
    assert client.retransmit() == frame
    replies, again = server.receive(decode_frame(client.retransmit()))
    assert again is None
    assert replies == [lost]
    assert client.receive(decode_frame(replies[0])) == MessageReceived(b"\xe6\xe7\x00\x02")
    # A late duplicate of the same answer is ignored.
    assert isinstance(client.receive(decode_frame(lost)), Ignored)


def test_frames_for_other_stations_are_ignored() -> None:
    """Another meter's answer on the same bus does not touch our link."""
    client, _ = connected_pair()
    other = HdlcFrame(client_address(1), ServerAddress(1, 5, 2), i_control(0, 0), b"x")
    assert isinstance(client.receive(other), Ignored)
    server = HdlcServerLink(ServerAddress(1, 1234, 4))
    assert server.receive(decode_frame(SNRM_1BYTE)) == ([], None)


def test_an_answer_from_another_address_size_is_ours() -> None:
    """SNRM to logical 1, physical 17 in the 2-byte form, answered by the vendor's UA from the
    4-byte form (00 02 00 23): the same station, so the link is up (issue 24, item 2). The same
    parts in another meter's physical address are still someone else's."""
    client = HdlcLink(ServerAddress(1, 17, 2), 16)
    client.connect()
    assert client.receive(decode_frame(UA_VENDOR)) == Connected(HdlcParameters())
    stranger = HdlcLink(ServerAddress(1, 18, 2), 16)
    stranger.connect()
    assert isinstance(stranger.receive(decode_frame(UA_VENDOR)), Ignored)
    one_byte = HdlcLink(ServerAddress(1), 16)
    one_byte.connect()
    assert isinstance(one_byte.receive(decode_frame(UA_VENDOR)), Ignored)


def test_rnr_is_answered_with_a_poll_never_the_acknowledged_request() -> None:
    """The meter takes the request (RNR, N(R) = our next N(S)) but is busy: the link waits, and
    what it repeats when the wait runs out is an RR(P=1) poll, never the request the RNR
    acknowledged; the meter's answer to the poll is the message (issue 24, item 3). An RNR that
    did not take the request leaves the request to be sent again."""
    client, server = connected_pair()
    request = client.send(b"\xe6\xe6\x00\x01")
    server.receive(decode_frame(request))
    busy = decode_frame(server.not_ready())
    assert busy.kind is FrameKind.RNR
    assert isinstance(client.receive(busy), Ignored)
    poll = client.retransmit()
    assert poll != request
    assert decode_frame(poll).control == rr_control(0)
    answer = server.respond(b"\xe6\xe7\x00\x02")
    assert client.receive(decode_frame(answer)) == MessageReceived(b"\xe6\xe7\x00\x02")

    again, _ = connected_pair()
    request = again.send(b"\xe6\xe6\x00\x01")
    not_taken = HdlcFrame(client_address(1), SERVER, rnr_control(0))
    assert isinstance(again.receive(not_taken), Ignored)
    assert again.retransmit() == request


def test_a_window_of_three_is_answered_after_its_last_frame() -> None:
    """The meter may send three segments before our RR: the two with P/F=0 are taken without
    a word (an RR then would collide with its next frame), the third (P/F=1) gets the RR, and
    the next window follows (issue 24, item 4)."""
    client, server = connected_pair(HdlcParameters(window_rx=3), HdlcParameters(window_tx=3))
    assert client.parameters.window_rx == 3
    _, request = server.receive(decode_frame(client.send(b"\xe6\xe6\x00\x01")))
    assert request is not None
    answer = b"\xe6\xe7\x00" + bytes(range(255)) * 3  # six segments of 128
    frames = server.respond_frames(answer)
    events = [client.receive(decode_frame(frame)) for frame in frames]
    assert events[:2] == [InWindow(), InWindow()]
    rr = events[2]
    assert isinstance(rr, SendFrame)
    assert decode_frame(rr.data).control == rr_control(3)
    # A lost window end: what the client repeats is a poll for the rest, not its request.
    assert decode_frame(client.retransmit()).kind is FrameKind.RR
    rest, _ = server.receive(decode_frame(rr.data))
    assert len(rest) == 3
    *middle, last = [client.receive(decode_frame(frame)) for frame in rest]
    assert middle == [InWindow(), InWindow()]
    assert last == MessageReceived(answer)


def test_out_of_sequence_is_a_frame_error_and_frmr_a_rejection() -> None:
    """A skipped N(S) and a wrong N(R) are link errors; FRMR is the meter's rejection, reported
    as its own event so the client goes straight to DISC instead of retrying (issue 12)."""
    client, _ = connected_pair()
    client.send(b"\xe6\xe6\x00")
    with pytest.raises(FrameError, match="N\\(S\\)=3"):
        client.receive(HdlcFrame(client_address(1), SERVER, i_control(3, 1), b"x"))
    with pytest.raises(FrameError, match="acknowledged"):
        client.receive(HdlcFrame(client_address(1), SERVER, i_control(0, 0), b"x"))
    frmr = HdlcFrame(client_address(1), SERVER, 0x97, b"\x00\x00\x00")
    assert client.receive(frmr) == FrameRejected(b"\x00\x00\x00")


def test_bare_rr_is_answered_with_a_poll() -> None:
    """The meter acknowledges our request with RR(F=1) and nothing else: we poll with RR (a
    few times, without restarting the answer's deadline) instead of resending the request."""
    client, server = connected_pair()
    server.receive(decode_frame(client.send(b"\xe6\xe6\x00\xc0")))
    bare = HdlcFrame(client_address(1), SERVER, rr_control(1))
    polls = [client.receive(bare) for _ in range(4)]
    for poll in polls[:3]:
        assert isinstance(poll, SendFrame)
        assert not poll.progress
        assert decode_frame(poll.data).control == rr_control(0)  # nothing received yet
    assert isinstance(polls[3], Ignored)
    assert client.retransmit() == polls[0].data  # type: ignore[union-attr]
    answer = server.respond(b"\xe6\xe7\x00\xc4")
    assert client.receive(decode_frame(answer)) == MessageReceived(b"\xe6\xe7\x00\xc4")


def test_rr_without_final_bit_or_for_an_old_frame_is_ignored() -> None:
    """Only a final RR acknowledging our last frame is a bare RR to poll after."""
    client, _ = connected_pair()
    client.send(b"\xe6\xe6\x00")
    not_final = HdlcFrame(client_address(1), SERVER, rr_control(1, poll=False))
    assert isinstance(client.receive(not_final), Ignored)
    old = HdlcFrame(client_address(1), SERVER, rr_control(0))
    assert isinstance(client.receive(old), Ignored)


def test_client_takes_an_odd_ua_parameter_group() -> None:
    """A UA whose group length byte disagrees, with values beyond the standard, still opens
    the link with what parses, clamped (the server side stays strict)."""
    client = HdlcLink(SERVER, 1)
    client.connect()
    odd = bytes.fromhex("81 80 12 05 02 10 00 06 02 00 80 07 04 00 00 00 09 08 04 00 00 00 00")
    event = client.receive(HdlcFrame(client_address(1), SERVER, 0x73, odd))
    assert event == Connected(HdlcParameters(128, 2030, 1, 7))
    with pytest.raises(FrameError):
        HdlcParameters.decode(odd)


@pytest.mark.parametrize(
    ("information", "expected"),
    [
        (b"\x00\x01\x02", HdlcParameters()),  # not a parameter group at all: defaults
        (bytes.fromhex("81 80 09 05 01 40 06 01 40 07 04"), HdlcParameters(64, 64)),  # cut
        (bytes.fromhex("81 80 03 05 01 20 05 01 40"), HdlcParameters(32)),  # twice: first
    ],
)
def test_lenient_parameter_parsing(information: bytes, expected: HdlcParameters) -> None:
    """What a client makes of parameter groups a strict decoder refuses."""
    with pytest.raises(FrameError):
        HdlcParameters.decode(information)
    assert HdlcParameters.decode_lenient(information) == expected


def test_dm_mid_session_and_server_answers() -> None:
    """DM means the meter dropped the link; a server without a link answers I with DM."""
    client, server = connected_pair()
    assert client.receive(HdlcFrame(client_address(1), SERVER, 0x1F)) == Disconnected(FrameKind.DM)
    (ua,), _ = server.receive(decode_frame(DISC_1BYTE))
    assert decode_frame(ua).kind is FrameKind.UA
    (dm,), _ = server.receive(decode_frame(DISC_1BYTE))
    assert decode_frame(dm).kind is FrameKind.DM
    i_frame = HdlcFrame(SERVER, client_address(1), i_control(0, 0), b"\xe6\xe6\x00")
    (dm,), _ = server.receive(i_frame)
    assert decode_frame(dm).kind is FrameKind.DM


def test_lost_rr_during_segmented_answer() -> None:
    """Our RR for a segment is lost: the meter repeats the segment, we repeat the RR."""
    client, server = connected_pair()
    client_frame = client.send(b"\xe6\xe6\x00")
    server.receive(decode_frame(client_frame))
    first = server.respond(bytes(300))
    event = client.receive(decode_frame(first))
    assert isinstance(event, SendFrame)
    assert decode_frame(event.data).control == rr_control(1)
    # RR lost; the client times out and repeats it; the meter sends segment 2.
    replies, _ = server.receive(decode_frame(client.retransmit()))
    assert decode_frame(replies[0]).send_seq == 1


def test_send_requires_a_link() -> None:
    """No I-frames before UA."""
    with pytest.raises(FrameError):
        HdlcLink(SERVER, 1).send(b"x")


def test_server_rejects_malformed_snrm_parameters() -> None:
    """A strict meter-side decoder refuses the field's malformed group."""
    server = HdlcServerLink(ServerAddress(1, 1, 2))
    with pytest.raises(FrameError, match="malformed parameter group"):
        server.receive(decode_frame(SNRM_MALFORMED))


def test_client_link_refuses_what_breaks_the_protocol() -> None:
    """Two messages at once, information while we still send, a segmented answer beyond the
    memory bound, and an RR for a frame we never sent are link errors; odd frames are
    ignored."""
    client, _ = connected_pair()
    client.send(bytes(300))  # three segments at 128
    with pytest.raises(FrameError, match="still being sent"):
        client.send(b"x")
    with pytest.raises(FrameError, match="before our message was complete"):
        client.receive(HdlcFrame(client_address(1), SERVER, i_control(0, 1), b"x"))
    with pytest.raises(FrameError, match="RR N\\(R\\)=5"):
        client.receive(HdlcFrame(client_address(1), SERVER, rr_control(5)))
    repeat = client.receive(HdlcFrame(client_address(1), SERVER, rr_control(0)))
    assert isinstance(repeat, SendFrame)  # the meter missed our first segment: sent again
    assert isinstance(client.receive(HdlcFrame(client_address(1), SERVER, 0x13)), Ignored)  # UI
    assert isinstance(client.receive(HdlcFrame(client_address(1), SERVER, 0x73)), Ignored)  # UA

    small = HdlcLink(SERVER, 1, max_message=4)
    small_server = HdlcServerLink(SERVER)
    (ua,), _ = small_server.receive(decode_frame(small.connect()))
    small.receive(decode_frame(ua))
    small_server.receive(decode_frame(small.send(b"\xe6\xe6\x00")))
    with pytest.raises(FrameError, match="exceeds 4 bytes"):
        small.receive(decode_frame(small_server.respond(bytes(200))))


def test_server_link_stays_silent_on_what_it_cannot_use() -> None:
    """The meter side ignores frames for others, out-of-sequence I-frames and unknown kinds,
    answers a stray RR with RR, and refuses over-long requests."""
    _, server = connected_pair()
    assert server.connected
    other = HdlcFrame(ServerAddress(2), client_address(1), i_control(0, 0), b"x")
    assert server.receive(other) == ([], None)
    skipped = HdlcFrame(SERVER, client_address(1), i_control(3, 0), b"x")
    assert server.receive(skipped) == ([], None)
    ui = HdlcFrame(SERVER, client_address(1), 0x13)
    assert server.receive(ui) == ([], None)
    (rr,), _ = server.receive(HdlcFrame(SERVER, client_address(1), rr_control(0)))
    assert decode_frame(rr).kind is FrameKind.RR
    stranger = HdlcFrame(SERVER, client_address(16), 0x13)
    assert server.receive(stranger) == ([], None)

    def flood() -> None:
        for n in range(1100):  # 1.1 MB in 1000-byte segments, each in sequence
            server.receive(
                HdlcFrame(SERVER, client_address(1), i_control(n % 8, 0), bytes(1000), True)
            )

    with pytest.raises(FrameError, match="exceeds"):
        flood()
    alone = HdlcServerLink(SERVER)
    with pytest.raises(FrameError, match="no client is connected"):
        alone.respond(b"x")


def test_with_a_window_of_one_every_segment_gets_its_rr() -> None:
    """A meter that negotiated a window of 1 but leaves P/F at 0 on its segments: each segment
    is a whole window, so each is answered with RR as before."""
    client, _ = connected_pair()
    client.send(b"\xe6\xe6\x00\x01")
    segment = HdlcFrame(client_address(1), SERVER, i_control(0, 1, poll=False), b"x", True)
    event = client.receive(segment)
    assert isinstance(event, SendFrame)
    assert decode_frame(event.data).control == rr_control(1)
