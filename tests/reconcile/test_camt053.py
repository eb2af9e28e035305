"""camt.053: the sample, XML attacks, namespaces, balances, pending and bad entries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconcile.formats import (
    FileFormat,
    ImportRefused,
    KeyKind,
    LineReason,
    PreviousStatement,
    RefusalReason,
    parse_camt053,
    parse_file,
)

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "statement-camt053.xml"
NS02 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def entry(
    amount: str = "5000.00",
    *,
    indicator: str = "CRDT",
    status: str = "BOOK",
    booked: str = "2026-12-02",
    ref: str = "R1",
    text: str = "TRF VA 888100123456789",
) -> str:
    booking = f"<BookgDt><Dt>{booked}</Dt></BookgDt>" if booked else ""
    return (
        f'<Ntry><Amt Ccy="IDR">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        f"<Sts>{status}</Sts>{booking}<AcctSvcrRef>{ref}</AcctSvcrRef>"
        f"<NtryDtls><TxDtls><RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def balance(code: str, amount: str, indicator: str = "CRDT") -> str:
    return (
        f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="IDR">{amount}</Amt>'
        f"<CdtDbtInd>{indicator}</CdtDbtInd><Dt><Dt>2026-12-02</Dt></Dt></Bal>"
    )


def document(
    entries: str,
    *,
    opening: str = "100000.00",
    closing: str = "105000.00",
    ns: str = NS02,
    number: str = "12",
    extra_balances: str = "",
) -> bytes:
    balances = (balance("OPBD", opening) if opening else "") + (
        balance("CLBD", closing) if closing else ""
    )
    return (
        f'<?xml version="1.0"?>\n<Document xmlns="{ns}"><BkToCstmrStmt><Stmt>'
        f"<Id>S1</Id><ElctrncSeqNb>{number}</ElctrncSeqNb>"
        f"<Acct><Id><Othr><Id>1380012345678</Id></Othr></Id><Ccy>IDR</Ccy></Acct>"
        f"{balances}{extra_balances}\n{entries}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def refusal(data: bytes, **kwargs: object) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        parse_camt053(data, **kwargs)  # type: ignore[arg-type]
    return caught.value


class TestSample:
    def test_counts_totals_and_pending(self) -> None:
        parsed = parse_file(SAMPLE.read_bytes(), FileFormat.CAMT053)
        assert (parsed.lines_read, len(parsed.lines), len(parsed.rejected)) == (5, 4, 1)
        assert parsed.rejected[0].reason is LineReason.PENDING
        assert parsed.statement_numbers == (336,)
        assert (parsed.opening_balance_idr, parsed.closing_balance_idr) == (11_814_159, 12_020_323)
        assert (parsed.credit_total_idr, parsed.debit_total_idr) == (208_664, 2_500)

    def test_lines_carry_references_keys_and_xml_line_numbers(self) -> None:
        parsed = parse_camt053(SAMPLE.read_bytes())
        first, second, qris, _ = parsed.lines
        assert first.line_no == 35
        assert first.bank_reference == "FT26336A7Q1R2"
        assert first.customer_reference is None  # NOTPROVIDED is no reference
        assert first.keys_of(KeyKind.BILL_NUMBER) == ("SKRD/2026/12/KLEWER/000124",)
        assert second.customer_reference == "VA-LEGI-004211"
        assert qris.keys_of(KeyKind.NMID) == ("ID1020017611480",)

    def test_follows_the_mt940_sample(self) -> None:
        previous = PreviousStatement(335, closing_balance_idr=11_814_159)
        parse_camt053(SAMPLE.read_bytes(), previous=previous)

    def test_same_file_twice_same_identities(self) -> None:
        first = parse_camt053(SAMPLE.read_bytes())
        second = parse_camt053(SAMPLE.read_bytes())
        assert [ln.identity for ln in first.lines] == [ln.identity for ln in second.lines]


class TestXmlAttacks:
    def test_external_entity_xxe_refused(self) -> None:
        data = (
            b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            b'<Document xmlns="' + NS02.encode() + b'"><BkToCstmrStmt><Stmt><Id>&xxe;</Id>'
            b"</Stmt></BkToCstmrStmt></Document>"
        )
        error = refusal(data)
        assert error.reason is RefusalReason.XML_FORBIDDEN
        assert "XXE" in error.message
        assert "root:" not in error.message

    def test_billion_laughs_refused_quickly(self) -> None:
        entities = '<!ENTITY lol "lol">' + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
            for i in range(1, 10)
        )
        data = (
            f'<?xml version="1.0"?>\n<!DOCTYPE lolz [{entities}]>\n'
            f'<Document xmlns="{NS02}"><BkToCstmrStmt><Stmt><Id>&lol9;</Id></Stmt>'
            "</BkToCstmrStmt></Document>"
        ).encode()
        started = time.perf_counter()
        error = refusal(data)
        assert error.reason is RefusalReason.XML_FORBIDDEN
        assert time.perf_counter() - started < 1.0

    def test_malformed_xml_refused(self) -> None:
        data = f'<Document xmlns="{NS02}"><BkToCstmrStmt></Document>'.encode()
        assert refusal(data).reason is RefusalReason.XML_MALFORMED
        assert refusal(b"not xml at all").reason is RefusalReason.XML_MALFORMED


class TestNamespaces:
    @pytest.mark.parametrize("version", ["02", "04", "08"])
    def test_versions_02_to_08_accepted(self, version: str) -> None:
        ns = f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"
        parsed = parse_camt053(document(entry(), ns=ns))
        assert parsed.lines[0].amount_idr == 5_000

    def test_v08_status_code_element(self) -> None:
        data = document(entry(status="<Cd>BOOK</Cd>"), ns=NS02.replace(".02", ".08"))
        assert len(parse_camt053(data).lines) == 1

    @pytest.mark.parametrize(
        "ns",
        [
            "urn:iso:std:iso:20022:tech:xsd:camt.052.001.02",
            "urn:iso:std:iso:20022:tech:xsd:camt.053.001.09",
            "",
        ],
    )
    def test_other_documents_refused(self, ns: str) -> None:
        data = document(entry()).replace(NS02.encode(), ns.encode())
        error = refusal(data)
        assert error.reason is RefusalReason.XML_NAMESPACE


class TestBalances:
    def test_not_adding_up_refused(self) -> None:
        error = refusal(document(entry(), closing="105001.00"))
        assert error.reason is RefusalReason.BALANCE_MISMATCH

    def test_missing_closing_refused(self) -> None:
        assert refusal(document(entry(), closing="")).reason is RefusalReason.BALANCE_MISSING

    def test_prcd_is_an_opening_balance(self) -> None:
        data = document(entry(), opening="", extra_balances=balance("PRCD", "100000.00"))
        assert parse_camt053(data).opening_balance_idr == 100_000

    def test_debit_entries_and_balances(self) -> None:
        data = document(entry(indicator="DBIT"), opening="1000.00", closing="4000.00")
        data = data.replace(
            b"<CdtDbtInd>CRDT</CdtDbtInd><Dt>", b"<CdtDbtInd>DBIT</CdtDbtInd><Dt>", 1
        )
        # opening is now -1000; -1000 - 5000 = -6000 is not 4000
        assert refusal(data).reason is RefusalReason.BALANCE_MISMATCH

    def test_fraction_refused(self) -> None:
        data = document(entry("5000.50") + entry("0.50", ref="R2"))
        assert refusal(data).reason is RefusalReason.AMOUNT_FRACTION

    def test_statement_gap_refused(self) -> None:
        error = refusal(document(entry()), previous=PreviousStatement(10))
        assert error.reason is RefusalReason.STATEMENT_GAP

    def test_other_currency_refused(self) -> None:
        data = document(entry()).replace(b'<Amt Ccy="IDR">5000.00', b'<Amt Ccy="USD">5000.00')
        assert refusal(data).reason is RefusalReason.CURRENCY


class TestEntries:
    def test_pending_entry_quarantined_and_left_out_of_balance(self) -> None:
        parsed = parse_camt053(document(entry() + entry("75000.00", status="PDNG", booked="")))
        assert [r.reason for r in parsed.rejected] == [LineReason.PENDING]
        assert parsed.lines_read == 2

    def test_impossible_booking_date_quarantined_but_counted(self) -> None:
        parsed = parse_camt053(document(entry(booked="2026-02-31")))
        assert [r.reason for r in parsed.rejected] == [LineReason.DATE_INVALID]
        assert parsed.statements[0].credit_total_idr == 5_000

    def test_missing_booking_date_quarantined(self) -> None:
        parsed = parse_camt053(document(entry(booked="")))
        assert [r.reason for r in parsed.rejected] == [LineReason.DATE_MISSING]

    def test_unreadable_amount_refuses(self) -> None:
        data = document(entry("5,000.00"))
        assert refusal(data).reason is RefusalReason.LINE_AMOUNT_UNREADABLE

    def test_unknown_indicator_refuses(self) -> None:
        assert refusal(document(entry(indicator="XXXX"))).reason is (
            RefusalReason.LINE_AMOUNT_UNREADABLE
        )
