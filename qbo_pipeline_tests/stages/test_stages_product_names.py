"""Tokens in product names, against a live sandbox through the stage API: one QBO item per filled name.

A hosting company bills "Domain renewal {description}" once per domain. The sync must create one
item per distinct domain (two lines of the same domain share it), point every invoice line at its
own item, never export the template itself, find the items again by their derived ids on the next
run (the ledger's, so nothing is created twice), and quarantine a template with a misspelt token.
"""

from __future__ import annotations

from datetime import date, datetime

from qbo_pipeline.stages import SyncRequest, sync_company
from qbo_pipeline.transform.product_names import TEMPLATE_RULE, derived_id, fill
from qbo_pipeline_tests.canonical_source import canonical_source
from qbo_pipeline_tests.stages.stages_helpers import session_for

STAMP = datetime(2026, 5, 1, 9)
TEMPLATE = "Domain renewal {description} ({customer}, {period})"


def _line(iid: str, n: int, product: str, description: str, price: float = 14.5) -> dict:
    return {"id": f"{iid}-{n}", "invoice_id": iid, "line_no": n, "product_id": product, "description": description,
            "quantity": 1.0, "unit_price": price, "amount": price, "tax_code": "NON", "updated_at": STAMP}


def _invoice(iid: str, customer: str, day: date) -> dict:
    return {"id": iid, "number": f"INV-{iid}", "customer_id": customer, "status": "sent", "issue_date": day,
            "currency": "USD", "deleted": False, "updated_at": STAMP}


def _source(path) -> str:
    customer = {"email": None, "active": True, "deleted": False, "currency": "USD", "updated_at": STAMP}
    product = {"type": "service", "unit_price": 14.5, "taxable": False, "active": True, "deleted": False,
               "updated_at": STAMP}
    rows = {
        "customers": [{"id": "C1", "display_name": "Acme: Web", **customer},
                      {"id": "C2", "display_name": "Beta Ltd", **customer}],
        "products": [{"id": "P1", "name": "Hosting", **product},
                     {"id": "PT", "name": TEMPLATE, **product},
                     {"id": "PX", "name": "Domain {custmer}", **product}],  # a typo: quarantined
        "invoices": [_invoice("I1", "C1", date(2026, 4, 1)), _invoice("I2", "C1", date(2026, 4, 1)),
                     _invoice("I3", "C2", date(2026, 4, 9))],
        "invoice_lines": [_line("I1", 1, "PT", "acme.example"), _line("I1", 2, "P1", "Hosting", 20.0),
                          _line("I1", 3, "PT", "acme.example\tshop"),
                          _line("I2", 1, "PT", "acme.example"),  # the same filled name as I1's first line
                          _line("I3", 1, "PT", "beta.example")],
    }
    return canonical_source(f"sqlite:///{path}", rows)


def _items(session) -> dict[str, str]:
    found = session.client.query_all("Item")
    return {row["Name"]: row["Id"] for row in found}


def test_each_filled_name_is_one_item_and_each_line_points_at_its_own(sandbox_unlimited, tmp_path):
    url = _source(tmp_path / "s.db")
    session = session_for(sandbox_unlimited, tmp_path, url)
    before = _items(session)

    first = sync_company(session.config, SyncRequest("demo"), session)

    assert first.totals()["failed"] == 0 and first.totals()["blocked"] == 0
    products = first.entities["products"]
    assert products.skipped == {TEMPLATE_RULE: 1}  # the template itself is not an item
    assert products.quarantined == 1  # "{custmer}"
    assert products.created == 1 and products.derived == 3  # Hosting; three distinct filled names
    assert products.accounted == products.read
    made = {name: qbo_id for name, qbo_id in _items(session).items() if name not in before}
    expected = {"Hosting", "Domain renewal acme.example (Acme- Web, 2026-04)",
                "Domain renewal acme.example shop (Acme- Web, 2026-04)",
                "Domain renewal beta.example (Beta Ltd, 2026-04)"}
    assert set(made) == expected
    assert not any("{" in name for name in made)

    def item_of_lines(source_id: str) -> list[str]:
        invoice = session.client.read("Invoice", session.ledger.get_link("demo", "Invoice", source_id)["qbo_id"])
        return [line["SalesItemLineDetail"]["ItemRef"]["value"] for line in invoice["Line"]
                if line.get("DetailType") == "SalesItemLineDetail"]

    acme = made["Domain renewal acme.example (Acme- Web, 2026-04)"]
    assert item_of_lines("I1") == [acme, made["Hosting"], made["Domain renewal acme.example shop (Acme- Web, 2026-04)"]]
    assert item_of_lines("I2") == [acme]  # the same filled name: the same item
    assert item_of_lines("I3") == [made["Domain renewal beta.example (Beta Ltd, 2026-04)"]]
    pointing = sum(item in set(made.values()) - {made["Hosting"]}
                   for sid in ("I1", "I2", "I3") for item in item_of_lines(sid))
    assert pointing == 4
    # the ledger knows the items as the pipeline's, by their derived ids
    link = session.ledger.get_link("demo", "Item", derived_id("Domain renewal beta.example (Beta Ltd, 2026-04)"))
    assert link is not None and link["qbo_id"] == made["Domain renewal beta.example (Beta Ltd, 2026-04)"]

    # a full re-run plans the same derived ids: nothing created, nothing written
    again = sync_company(session.config, SyncRequest("demo", mode="full"), session)
    assert again.totals()["created"] == 0 and again.totals()["updated"] == 0 and again.totals()["derived"] == 0
    assert set(_items(session)) - set(before) == expected


def test_a_filled_name_follows_qbo_item_name_rules():
    values = {"description": "x" * 150, "customer": "A:B", "period": "2026-04"}
    long = fill("Renewal {description} {customer}", values, 100)
    other = fill("Renewal {description} {customer}", {**values, "customer": "A:C"}, 100)
    assert len(long) == 100 and long != other and ":" not in long  # cut, kept apart by a hash
    assert fill("{customer}\n{period}", values, 100) == "A-B 2026-04"
    assert derived_id("Renewal a.example") == derived_id("RENEWAL A.EXAMPLE")  # QBO compares names ignoring case
