"""HL7 v2 over MLLP, sent by the Python ``hl7`` library's ``MLLPClient`` (nobody here wrote it).

A patient-monitoring gateway, bound to its HL7 sender with the command line as an operator would
do it, sends HL7 v2.6 messages built as text and checked by ``hl7.parse`` before sending:

- IHE PCD-04 ``ORU^R40`` alarm reports in enhanced mode (``MSH-15 AL``, ``MSH-16 NE``, as IHE
  specifies) answered ``ACK^R40^ACK`` with ``MSA|CA``; in original mode with ``MSA|AA``;
- a report without its OBR: ``CE`` (or ``AE``) with ``ERR-3`` 101;
- a type Wardline does not take (``ORM^O01``): ``CR``/``AR`` with ``ERR-3`` 200;
- ``ADT^A01``, ``A02``, ``A03`` answered ``AA``, and a later alarm without PV1 placed in the bed
  ADT gave the patient;
- a repeated control id answered as the first, and nothing done twice;
- ``ORU^R01`` observation results (two orders, a NEWS2 each and a heart rate): answered
  ``ACK^R01^ACK`` ``AA``; the NEWS2 a topic rule wants (≥ 7) raises one clinical alert, routed
  to the topic's subscriber, whom the alert's conversation reaches with a "Take" button; a
  result without OBR ``AE`` 101;
- IHE PCD-05: an arrest reporter whose binding asks for status (``--status-address``,
  ``--report-status``) runs its own MLLP listener (the library's asyncio
  ``hl7.mllp.start_hl7_server``); when a responder accepts the arrest, an ``ORA^R41^ORA_R41``
  with ``PRT-3`` ``Accepted`` reaches it, read with ``hl7.parse`` and answered ``CA``.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import hl7
import hl7.client
import hl7.mllp
import pytest
from conftest import WardlineServer, wardline_binary

HL7_RE = re.compile(r"wardline hl7 listening on 127\.0\.0\.1:(\d+)")
WAIT_S = 30


@pytest.fixture(scope="module")
def wardline(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("wardline-hl7")
    server = WardlineServer(
        binary=wardline_binary(),
        data_dir=root / "data",
        log_path=root / "wardline.log",
        env={
            "WARDLINE_HL7__LISTEN": "127.0.0.1:0",
            "WARDLINE_SECURITY__MFA_REQUIRED": "off",
        },
    )
    server.data_dir.mkdir()
    server.start()
    try:
        server.add_user("boss", admin=True)
        cli(server, "integration", "add", "monitors", "--name", "ICU monitors", "--kind", "monitoring",
            "--scope", "hl7.alarms", "--scope", "hl7.adt", "--scope", "hl7.observations")
        cli(server, "integration", "hl7", "set", "monitors", "--application", "PYMON", "--facility", "ICU",
            "--allow", "127.0.0.0/8", "--default-kind", "monitor")
        yield server
    finally:
        server.stop()


def cli(wardline: WardlineServer, *args: str) -> str:
    # The command line reads the server's settings too (hl7.status_addresses).
    proc = subprocess.run(
        [str(wardline.binary), *args, "--data-dir", str(wardline.data_dir)],
        capture_output=True, text=True, timeout=60, env={**os.environ, **wardline.env},
    )
    assert proc.returncode == 0, f"wardline {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def hl7_port(wardline: WardlineServer) -> int:
    match = HL7_RE.search(wardline.log_path.read_text(errors="replace"))
    assert match, "the server printed where it listens for HL7:\n" + wardline.log_tail()
    return int(match.group(1))


def admin_get(wardline: WardlineServer, path: str) -> dict:
    body = json.dumps({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "boss"},
                       "password": wardline.passwords["boss"]}).encode()
    req = urllib.request.Request(wardline.base_url + "/_matrix/client/v3/login", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        token = json.loads(resp.read())["access_token"]
    req = urllib.request.Request(wardline.base_url + path)
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def r40(control: str, source: str, phase: str = "start", *, mode: str = "|||AL|NE", pv1: bool = True,
        obr: bool = True, msg_type: str = "ORU^R40^ORU_R40") -> str:
    """A PCD-04 report shaped as IHE PCD TF-2 E.3.1 (a physiological alarm)."""
    segments = [
        f"MSH|^~\\&|PYMON|ICU|WARDLINE|HOSP|20261201101500+0000||{msg_type}|{control}|P|2.6{mode}"
        + ("||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO" if mode else ""),
        "PID|||HO2009001^^^HOSP^MR||Hon^Albert||19610101|M",
    ]
    if pv1:
        segments.append("PV1||I|ICU^Bay 2^1^Main")
    if obr:
        segments.append(f"OBR|1|{source}^PYMON|{source}^PYMON|196616^MDC_EVT_ALARM^MDC|||20261201101500+0000")
    segments += [
        "OBX|1|ST|196670^MDC_EVT_HI^MDC|1.3.1.150456.1|SpO2 above high limit||||||R|||20261201101459+0000",
        "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.150456.2|99|262688^MDC_DIM_PERCENT^MDC|50-95|H|||R",
        f"OBX|3|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.3.1.150456.3|{phase}||||||R",
        "OBX|4|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.3.1.150456.5|PH||||||R",
        "OBX|5|ST|68485^MDC_ATTR_ALERT_TYPE^MDC|1.3.1.150456.6|SP||||||R",
    ]
    return "\r".join(segments) + "\r"


def adt(control: str, event: str, time_: str, bed: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|PYMON|ICU|WARDLINE|HOSP|{time_}||ADT^{event}^ADT_A01|{control}|P|2.6",
        f"EVN|{event}|{time_}",
        "PID|1||H777^^^HOSP^MR||Smith^John||19450101|M",
        f"PV1|1|I|Ward 7^3^{bed}^Main",
    ]) + "\r"


def send(port: int, text: str) -> hl7.Message:
    """Sends one message with MLLPClient (after checking hl7 reads it) and parses the answer."""
    sent = hl7.parse(text)
    assert str(sent.segment("MSH")[10]) != "", "the library reads what is sent"
    with hl7.client.MLLPClient("127.0.0.1", port) as client:
        raw = client.send_message(text)
    return hl7.parse(raw.strip(b"\x0b\x1c\r").decode())


def msa(answer: hl7.Message) -> tuple[str, str]:
    seg = answer.segment("MSA")
    return str(seg[1]), str(seg[2])


def err3(answer: hl7.Message) -> str:
    return str(answer.segment("ERR")[3][0][0])


def alarms(wardline: WardlineServer) -> list[dict]:
    return admin_get(wardline, "/_wardline/admin/v1/alarms?integration=monitors")["alarms"]


def test_an_alarm_report_is_acknowledged_once_stored(wardline):
    port = hl7_port(wardline)
    answer = send(port, r40("PY-1", "ALARM-1"))
    assert str(answer.segment("MSH")[9]) == "ACK^R40^ACK"
    assert msa(answer) == ("CA", "PY-1")
    stored = [a for a in alarms(wardline) if a["source_id"] == "ALARM-1"]
    assert len(stored) == 1 and stored[0]["priority"] == "high", stored
    assert stored[0]["location"] == {"site": "Main", "ward": "ICU", "room": "Bay 2", "bed": "1"}
    # Original mode (MSH-15 and MSH-16 empty): AA.
    assert msa(send(port, r40("PY-2", "ALARM-2", mode=""))) == ("AA", "PY-2")


def test_content_errors_and_unsupported_types_are_refused_with_their_codes(wardline):
    port = hl7_port(wardline)
    no_obr = send(port, r40("PY-3", "ALARM-3", obr=False))
    assert msa(no_obr) == ("CE", "PY-3") and err3(no_obr) == "101"
    no_obr = send(port, r40("PY-4", "ALARM-4", obr=False, mode=""))
    assert msa(no_obr) == ("AE", "PY-4") and err3(no_obr) == "101"
    orm = send(port, r40("PY-5", "ALARM-5", msg_type="ORM^O01^ORM_O01"))
    assert msa(orm) == ("CR", "PY-5") and err3(orm) == "200"
    orm = send(port, r40("PY-6", "ALARM-6", msg_type="ORM^O01^ORM_O01", mode=""))
    assert msa(orm) == ("AR", "PY-6") and err3(orm) == "200"
    assert not [a for a in alarms(wardline) if a["source_id"] in ("ALARM-3", "ALARM-4", "ALARM-5", "ALARM-6")]


def test_a_resent_message_is_answered_as_the_first_and_a_reused_control_id_refused(wardline):
    port = hl7_port(wardline)
    assert msa(send(port, r40("PY-7", "ALARM-7"))) == ("CA", "PY-7")
    # The same message again (stamped anew): answered as the first, done once.
    resent = r40("PY-7", "ALARM-7").replace("|20261201101500+0000||ORU", "|20261201101600+0000||ORU", 1)
    assert msa(send(port, resent)) == ("CA", "PY-7")
    # The same control id for another message (now saying the alarm ended): refused (CR 207),
    # never taken for the first and dropped unseen.
    reused = send(port, r40("PY-7", "ALARM-7", phase="end"))
    assert msa(reused) == ("CR", "PY-7") and err3(reused) == "207"
    stored = [a for a in alarms(wardline) if a["source_id"] == "ALARM-7"]
    assert len(stored) == 1 and stored[0]["state"] == "active", stored
    assert msa(send(port, r40("PY-8", "ALARM-7", phase="end"))) == ("CA", "PY-8")
    stored = [a for a in alarms(wardline) if a["source_id"] == "ALARM-7"]
    assert stored[0]["state"] == "reset", stored


def test_adt_places_the_patient_and_an_alarm_without_a_bed_takes_it(wardline):
    port = hl7_port(wardline)
    for control, event, at, bed in [
        ("ADT-1", "A01", "20261201080000", "12"),
        ("ADT-2", "A02", "20261201090000", "14"),
    ]:
        answer = send(port, adt(control, event, at, bed))
        assert str(answer.segment("MSH")[9]) == f"ACK^{event}^ACK"
        assert msa(answer) == ("AA", control)
    # The alarm names the patient admitted above and gives no PV1: the bed comes from ADT.
    text = r40("PY-9", "ALARM-9", mode="", pv1=False).replace("HO2009001^^^HOSP^MR||Hon^Albert", "H777^^^HOSP^MR||")
    assert msa(send(port, text)) == ("AA", "PY-9")
    stored = [a for a in alarms(wardline) if a["source_id"] == "ALARM-9"]
    assert stored and stored[0]["location"]["bed"] == "14", stored
    # Discharged: an alarm with no bed of its own is still raised, at an unknown place (never
    # placed wrongly, never refused and lost: no rule names the place, so the failsafe gets it).
    assert msa(send(port, adt("ADT-3", "A03", "20261201100000", "14"))) == ("AA", "ADT-3")
    unplaced = send(port, text.replace("PY-9", "PY-10").replace("ALARM-9", "ALARM-10"))
    assert msa(unplaced) == ("AA", "PY-10")
    stored = [a for a in alarms(wardline) if a["source_id"] == "ALARM-10"]
    assert stored and stored[0]["location"] == {"ward": "Unknown location"}, stored


class Reporter:
    """A reporter's MLLP listener: the ``hl7`` library's asyncio server, on its own loop in a
    thread. Each block is read with ``readblock``, parsed with ``hl7.parse``, kept, and answered
    ``CA`` (``create_ack``)."""

    def __init__(self) -> None:
        self.received: list[hl7.Message] = []
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(self._start())
        self.port = self.server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def _start(self):
        return await hl7.mllp.start_hl7_server(self._connected, "127.0.0.1", 0)

    async def _connected(self, reader, writer) -> None:
        try:
            while True:
                block = await reader.readblock()
                message = hl7.parse(block.decode("utf-8"))
                with self.lock:
                    self.received.append(message)
                writer.writemessage(message.create_ack(ack_code="CA"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def statuses(self) -> list[str]:
        with self.lock:
            return [str(m.segment("PRT")[3][0][1]) for m in self.received]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def login(wardline: WardlineServer, user: str) -> str:
    body = json.dumps({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
                       "password": wardline.passwords[user]}).encode()
    req = urllib.request.Request(wardline.base_url + "/_matrix/client/v3/login", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["access_token"]


def call(wardline: WardlineServer, token: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(wardline.base_url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_a_reporter_hears_pcd05_accepted_at_its_own_listener_when_a_responder_accepts(tmp_path):
    reporter = Reporter()
    server = WardlineServer(
        binary=wardline_binary(),
        data_dir=tmp_path / "data",
        log_path=tmp_path / "wardline.log",
        env={
            "WARDLINE_HL7__LISTEN": "127.0.0.1:0",
            "WARDLINE_HL7__STATUS_ADDRESSES": f"127.0.0.1:{reporter.port}",
            "WARDLINE_SECURITY__MFA_REQUIRED": "off",
        },
    )
    server.data_dir.mkdir()
    server.start()
    try:
        server.add_user("boss", admin=True)
        server.add_user("nia", display_name="Nia Okafor")
        cli(server, "integration", "add", "arrests", "--name", "Arrest buttons", "--kind", "monitoring",
            "--scope", "hl7.alarms")
        cli(server, "integration", "hl7", "set", "arrests", "--application", "PYARREST", "--facility", "ICU",
            "--allow", "127.0.0.0/8", "--default-kind", "cardiac_arrest",
            "--status-address", f"127.0.0.1:{reporter.port}", "--report-status")
        boss = login(server, "boss")
        admin = "/_wardline/admin/v1"
        call(server, boss, "POST", f"{admin}/roles",
             {"role_id": "arrest-team", "name": "Arrest team", "eligibility": {"users": ["@nia:localhost"]}})
        call(server, boss, "PUT", f"{admin}/roles/arrest-team/holders", {"holders": ["nia"]})
        call(server, boss, "PUT", f"{admin}/alarm_rules/arrests",
             {"name": "Arrests", "match": {"kinds": ["cardiac_arrest"]},
              "action": {"mode": "incident", "targets": [{"kind": "role", "role": "arrest-team"}],
                         "level": "emergency"}})

        text = r40("PYA-1", "ARREST-1").replace("|PYMON|ICU|", "|PYARREST|ICU|", 1)
        assert msa(send(hl7_port(server), text)) == ("CA", "PYA-1")
        alarm_id = None
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            listed = call(server, boss, "GET", f"{admin}/alarms?integration=arrests")["alarms"]
            if listed:
                alarm = call(server, boss, "GET", f"{admin}/alarms/{listed[0]['alarm_id']}")
                if alarm.get("outcome") == "notified":
                    alarm_id = alarm["alarm_id"]
                    break
            time.sleep(0.1)
        assert alarm_id, "the arrest was delivered:\n" + server.log_tail()

        # Nia accepts it (an answer to the alarm's message).
        nia = login(server, "nia")
        room = urllib.parse.quote(alarm["room_id"], safe="")
        call(server, nia, "PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/accept-1",
             {"msgtype": "m.text", "body": "accept",
              "m.relates_to": {"rel_type": "m.reference", "event_id": alarm["event_id"]},
              "org.wardline.response": {"option": "accept"}})

        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and "Accepted" not in reporter.statuses():
            time.sleep(0.1)
        assert "Accepted" in reporter.statuses(), f"{reporter.statuses()}\n" + server.log_tail()
        with reporter.lock:
            received = list(reporter.received)
        for message in received:
            assert str(message.segment("MSH")[9]) == "ORA^R41^ORA_R41"
            assert str(message.segment("MSH")[15]) == "AL" and str(message.segment("MSH")[16]) == "NE"
            assert str(message.segment("OBR")[29][0][1]) == "ARREST-1", "OBR-29: the reporter's own id"
            assert str(message.segment("PID")[3][0][0]) == "HO2009001"
        assert str(received[0].segment("PRT")[2]) == "AD"
        assert all(str(m.segment("PRT")[2]) == "UP" for m in received[1:])
        accepted = next(m for m in received if str(m.segment("PRT")[3][0][1]) == "Accepted")
        assert str(accepted.segment("PRT")[3][0][2]) == "IHE_PCD_ACM"
        assert str(accepted.segment("PRT")[5][0][0]) == "@nia:localhost"
        assert str(accepted.segment("PRT")[5][0][1]) == "Nia Okafor"
        # The outbox saw each one taken (CA).
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            reports = call(server, boss, "GET", f"{admin}/integration_outbox?integration=arrests")["reports"]
            hl7_reports = [r for r in reports if r["channel"] == "hl7"]
            if len(hl7_reports) >= len(received) and all(r["outcome"] == "sent" for r in hl7_reports):
                break
            time.sleep(0.1)
        assert hl7_reports and all(r["outcome"] == "sent" for r in hl7_reports), hl7_reports
    finally:
        server.stop()
        reporter.stop()


def oru_r01(control: str, first: str, second: str, *, obr: bool = True, order: str = "") -> str:
    """An observation result as an EPR sends one: two orders (filler numbers ``OBS-<order>-1``
    and ``-2``, by default the control id's), each with a NEWS2 (a local code)."""
    order = order or control
    segments = [
        f"MSH|^~\\&|PYMON|ICU|WARDLINE|HOSP|20261201110000+0000||ORU^R01^ORU_R01|{control}|P|2.6",
        "PID|1||H888^^^HOSP^MR||Jones^Mary||19400512|F",
        "PV1|1|I|Ward 7^2^8^Main|||||||MED^General medicine",
    ]
    if obr:
        segments.append(f"OBR|1||OBS-{order}-1|OBS^Observations|||20261201105500+0000")
    segments += [
        f"OBX|1|NM|NEWS2^NEWS2 score^L||{first}|score|0-4|HH|||F|||20261201105900+0000",
        "OBX|2|NM|8867-4^Heart rate^LN||128|/min|60-100|H|||F",
    ]
    if obr:
        segments.append(f"OBR|2||OBS-{order}-2|OBS^Observations")
    segments.append(f"OBX|1|NM|NEWS2^NEWS2 score^L||{second}|score|0-4|N|||F")
    return "\r".join(segments) + "\r"


def test_an_observation_result_raises_the_alert_a_topic_rule_wants_for_its_subscriber(wardline):
    port = hl7_port(wardline)
    wardline.add_user("reg")
    boss, reg = login(wardline, "boss"), login(wardline, "reg")
    reg_id = call(wardline, reg, "GET", "/_matrix/client/v3/account/whoami")["user_id"]
    call(wardline, boss, "PUT", "/_wardline/admin/v1/alert_topics/news2-py",
         {"name": "NEWS2 ≥ 7 (py)", "open_to": [{"kind": "user", "user_id": reg_id}]})
    call(wardline, boss, "PUT", "/_wardline/admin/v1/alarm_rules/news2-py",
         {"name": "NEWS2 of 7 or more", "match": {"observation": {"code": "NEWS2", "op": "ge", "value": 7}},
          "action": {"mode": "topic", "topic": "news2-py", "level": "urgent"}})
    call(wardline, reg, "PUT", "/_wardline/client/v1/alert_topics/news2-py/subscription", {"scopes": ["ward:Ward 7"]})

    earlier = {a["alarm_id"] for a in alarms(wardline)}
    answer = send(port, oru_r01("PY-R1", "9", "3"))
    assert str(answer.segment("MSH")[9]) == "ACK^R01^ACK"
    assert msa(answer) == ("AA", "PY-R1")
    raised = [a for a in alarms(wardline) if a["alarm_id"] not in earlier]
    assert len(raised) == 1 and raised[0]["source_id"].startswith("r01:"), raised
    assert raised[0]["kind"] == "clinical_alert" and raised[0]["priority"] == "high", raised
    assert raised[0]["location"] == {"site": "Main", "ward": "Ward 7", "room": "2", "bed": "8"}

    # The subscriber's conversation has the alert, asking to be taken.
    deadline = time.time() + WAIT_S
    view = {}
    while time.time() < deadline:
        view = admin_get(wardline, f"/_wardline/admin/v1/alarms/{raised[0]['alarm_id']}")
        if view.get("room_id"):
            break
        time.sleep(0.2)
    assert view.get("room_id"), view
    room = urllib.parse.quote(view["room_id"], safe="")
    chunk = call(wardline, reg, "GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=20")["chunk"]
    alert = [e for e in chunk if e["content"].get("org.wardline.alarm", {}).get("alarm_id") == raised[0]["alarm_id"]]
    assert alert, chunk
    assert [o["label"] for o in alert[0]["content"]["org.wardline.ask"]["options"]] == ["Take"]
    assert alert[0]["content"]["org.wardline.alarm"]["observation"]["value"] == "9"

    # The final result of the same orders (a new message): the same alert brought up to date,
    # never a second one.
    assert msa(send(port, oru_r01("PY-R1F", "11", "3", order="PY-R1"))) == ("AA", "PY-R1F")
    same = [a for a in alarms(wardline) if a["alarm_id"] not in earlier]
    assert len(same) == 1 and same[0]["alarm_id"] == raised[0]["alarm_id"], same
    assert same[0]["text"].startswith("NEWS2 score 11"), same

    # A NEWS2 of 5 and of 3 raise nothing; a result without OBR is a content error.
    before = len(alarms(wardline))
    assert msa(send(port, oru_r01("PY-R2", "5", "3"))) == ("AA", "PY-R2")
    assert len(alarms(wardline)) == before
    no_obr = send(port, oru_r01("PY-R3", "9", "9", obr=False))
    assert msa(no_obr) == ("AE", "PY-R3") and err3(no_obr) == "101"
