"""``retribusi qris …`` through the real CLI runner: decode's output and exit codes, codes."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskCliRunner

from payments.qris import decode
from payments.qris.codec import MAX_INPUT_CHARS
from tests.qris.conftest import Billed
from tests.qris.test_codec import E08, N04, Q01, Q17, Q_MF2

REQUIRED = {
    "crc_ok", "errors", "warnings", "initiation", "amount", "merchant_name", "merchant_city",
    "nmid", "bill_number", "reference_label", "tags",
}  # fmt: skip


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_decode_arguments(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["qris", "decode", Q01, Q17])
    assert result.exit_code == 0, result.output
    reports = lines(result.output)
    assert len(reports) == 2
    assert set(reports[0]) >= REQUIRED
    assert reports[0]["merchant_name"] == "Warung Sayur Bu Sugeng"
    assert reports[1]["crc_ok"] is True


def test_decode_stdin_one_per_line_exit_1_on_any_error(runner: FlaskCliRunner) -> None:
    text = f"{Q_MF2}\r\n\n{E08}\n   \n{N04}\n"
    result = runner.invoke(args=["qris", "decode"], input=text)
    assert result.exit_code == 1
    reports = lines(result.output)
    assert [r["crc_ok"] for r in reports] == [True, True, False]
    assert reports[0]["merchant_name"] == "KOPI SÜSU"  # UTF-8 out, not escaped
    assert "KOPI SÜSU" in result.output
    assert [w["code"] for w in reports[1]["warnings"]] == ["crc.lowercase"]  # type: ignore[union-attr]
    assert [e["code"] for e in reports[2]["errors"]] == ["crc.mismatch"]  # type: ignore[union-attr]


def test_decode_never_dies_on_bad_input(runner: FlaskCliRunner) -> None:
    raw = b"\xff\xfe garbage\n" + Q01.encode() + b"\n" + b"0" * (MAX_INPUT_CHARS * 3) + b"\n0002"
    result = runner.invoke(args=["qris", "decode"], input=raw)
    assert result.exit_code == 1
    reports = lines(result.output)
    assert len(reports) == 4
    assert reports[0]["errors"]
    assert reports[1]["errors"] == []
    assert [e["code"] for e in reports[2]["errors"]] == ["payload.too_long"]  # type: ignore[union-attr]
    assert reports[3]["errors"][0]["code"] == "tlv.truncated"  # type: ignore[index]


def test_static_and_dynamic_commands(app: Flask, runner: FlaskCliRunner, billed: Billed) -> None:
    label = billed.holding.stall.reference
    static = runner.invoke(args=["qris", "static", label, "--json"])
    assert static.exit_code == 0, static.output
    body = json.loads(static.output)
    assert decode(body["payload"]).value("62.07") == label
    assert runner.invoke(args=["qris", "static", "KLEWER-Z-999"]).exit_code == 1
    args = ["qris", "dynamic", "--vendor", str(billed.vendor_id), "--json"]
    for bill_id in billed.bill_ids:
        args += ["--bill", str(bill_id)]
    made = runner.invoke(args=args)
    assert made.exit_code == 0, made.output
    code = json.loads(made.output)
    assert decode(code["payload"]).amount_idr == code["amount_idr"]
    refused = runner.invoke(args=["qris", "dynamic", "--vendor", "999999", "--bill", "1", "--json"])
    assert refused.exit_code == 1
    assert json.loads(refused.output)["ok"] is False
    shown = runner.invoke(args=["qris", "config", "--json"])
    assert json.loads(shown.output)["demo"] is True
