"""Customer and Item payloads: QBO names, jobs, disambiguation, accounts, deactivation."""

from __future__ import annotations

from qbo_pipeline.config import load_config
from qbo_pipeline.schemas.frames import make_frame
from qbo_pipeline.transform import TransformContext, build_payloads
from qbo_pipeline.transform.payload import named_ref, source_ref

CONFIG = load_config()


def customers(*rows):
    return {"customers": make_frame("customers", rows)}


def products(*rows):
    return {"products": make_frame("products", rows)}


def test_customer_body_and_job_after_parent():
    result = build_payloads("customers", customers(
        {"id": "C2", "given_name": "Ann", "family_name": "Lee", "parent_id": "C1", "email": "ann@x.com"},
        {"id": "C1", "display_name": "Acme: West\tCoast", "company_name": "Acme", "phone": "555-0100",
         "bill_line1": "1 Main St", "bill_city": "Springfield", "bill_region": "IL", "bill_postal_code": "62701",
         "currency": "EUR"},
    ), CONFIG)
    assert [p.source_id for p in result.payloads] == ["C1", "C2"]
    acme, ann = result.payloads
    assert acme.body["DisplayName"] == "Acme- West Coast"
    assert acme.body["BillAddr"] == {"Line1": "1 Main St", "City": "Springfield", "CountrySubDivisionCode": "IL",
                                     "PostalCode": "62701"}
    assert acme.body["CurrencyRef"] == {"value": "EUR"}
    assert acme.action == "upsert" and acme.lookup == {"DisplayName": "Acme- West Coast"}
    assert ann.body["DisplayName"] == "Ann Lee"
    assert ann.body["Job"] is True and ann.body["ParentRef"] == source_ref("Customer", "C1")
    assert ann.depends_on == [("Customer", "C1")]
    assert ann.lookup == {"DisplayName": "Ann Lee", "PrimaryEmailAddr": "ann@x.com"}
    report = result.normalisations
    assert list(report[["source_id", "field", "original", "value", "rule"]].itertuples(index=False, name=None)) == [
        ("C1", "DisplayName", "Acme: West\tCoast", "Acme- West Coast", "name_characters")]


def test_same_names_are_disambiguated_never_merged():
    result = build_payloads("customers", customers(
        {"id": "C3", "display_name": "John Smith", "email": "js2@x.com"},
        {"id": "C1", "display_name": "John Smith", "email": "js@x.com"},
        {"id": "C2", "display_name": "JOHN SMITH"},
    ), CONFIG)
    names = {p.source_id: p.body["DisplayName"] for p in result.payloads}
    assert names == {"C1": "John Smith", "C2": "JOHN SMITH (C2)", "C3": "John Smith (js2@x.com)"}
    assert set(result.normalisations["rule"]) == {"disambiguated"}


def test_claimed_name_stays_with_its_owner_across_runs():
    context = TransformContext(claimed_names={"john smith": "C3"})
    result = build_payloads("customers", customers(
        {"id": "C1", "display_name": "John Smith", "email": "js@x.com"},
        {"id": "C3", "display_name": "John Smith"},
    ), CONFIG, context=context)
    names = {p.source_id: p.body["DisplayName"] for p in result.payloads}
    assert names == {"C1": "John Smith (js@x.com)", "C3": "John Smith"}


def test_disambiguation_by_source_id_option():
    config = load_config(overrides={"options": {"disambiguation": "source_id"}})
    result = build_payloads("customers", customers(
        {"id": "C1", "display_name": "Jo", "email": "a@x.com"}, {"id": "C2", "display_name": "Jo", "email": "b@x.com"},
    ), config)
    assert [p.body["DisplayName"] for p in result.payloads] == ["Jo", "Jo (C2)"]


def test_long_name_cut_to_configured_length_and_reported():
    config = load_config(overrides={"options": {"name_max_length": 20}})
    result = build_payloads("customers", customers({"id": "C1", "display_name": "A" * 30}), config)
    assert result.payloads[0].body["DisplayName"] == "A" * 20
    row = result.normalisations.iloc[0]
    assert (row["field"], row["rule"], row["original"]) == ("DisplayName", "truncated", "A" * 30)


def test_inactive_and_deleted_customers_are_deactivated():
    result = build_payloads("customers", customers(
        {"id": "C1", "display_name": "A", "active": False}, {"id": "C2", "display_name": "B", "deleted": True},
        {"id": "C3", "display_name": "C"},
    ), CONFIG)
    assert [(p.action, p.body["Active"]) for p in result.payloads] == [
        ("deactivate", False), ("deactivate", False), ("upsert", True)]


def test_item_types_accounts_and_sku():
    result = build_payloads("products", products(
        {"id": "P1", "name": "Hosting", "sku": "HOST-1", "type": "service", "unit_price": 10.005},
        {"id": "P2", "name": "Cable", "type": "non_inventory", "income_account": "Hardware sales", "cost": 1.5},
        {"id": "P3", "name": "Router", "sku": "RT-9", "type": "inventory", "qty_on_hand": 4, "taxable": True},
    ), CONFIG)
    hosting, cable, router = (p.body for p in result.payloads)
    assert hosting["Type"] == "Service" and hosting["Sku"] == "HOST-1" and hosting["UnitPrice"] == 10.01
    assert hosting["IncomeAccountRef"] == named_ref("Account", CONFIG.accounts.service_income)
    assert cable["Type"] == "NonInventory" and cable["IncomeAccountRef"] == named_ref("Account", "Hardware sales")
    assert cable["PurchaseCost"] == 1.5
    assert router["Type"] == "Inventory" and router["TrackQtyOnHand"] is True and router["QtyOnHand"] == 4.0
    assert router["AssetAccountRef"] == named_ref("Account", CONFIG.accounts.inventory_asset)
    assert router["ExpenseAccountRef"] == named_ref("Account", CONFIG.accounts.cost_of_goods_sold)
    assert router["InvStartDate"] == CONFIG.options.sync_start_date.isoformat() and router["Taxable"] is True
    assert result.payloads[2].lookup == {"Name": "Router", "Sku": "RT-9"}


def test_item_name_falls_back_to_sku_and_duplicates_get_sku_suffix():
    result = build_payloads("products", products(
        {"id": "P1", "name": "Support"}, {"id": "P2", "name": "Support", "sku": "SUP-2"}, {"id": "P3", "sku": "ONLY-SKU"},
    ), CONFIG)
    assert [p.body["Name"] for p in result.payloads] == ["Support", "Support (SUP-2)", "ONLY-SKU"]


def test_item_description_cut_at_configured_max():
    result = build_payloads("products", products({"id": "P1", "name": "X", "description": "d" * 4100}), CONFIG)
    assert len(result.payloads[0].body["Description"]) == 4000
    assert result.normalisations.iloc[0]["rule"] == "truncated"
