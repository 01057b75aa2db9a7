"""The sample company created on first start, shaped like Intuit's sandbox company."""

from __future__ import annotations

from datetime import datetime

from qbo_pipeline.sandbox.entities import Company, Rules, meta_time

DEFAULT_REALM = "9341453050298746"
COMPANY_NAME = "Sandbox Company_US_1"

ACCOUNTS = [
    {"Name": "Checking", "AccountType": "Bank", "AccountSubType": "Checking", "AcctNum": "1010"},
    {"Name": "Undeposited Funds", "AccountType": "Other Current Asset", "AccountSubType": "UndepositedFunds"},
    {"Name": "Inventory Asset", "AccountType": "Other Current Asset", "AccountSubType": "Inventory"},
    {"Name": "Accounts Receivable (A/R)", "AccountType": "Accounts Receivable",
     "AccountSubType": "AccountsReceivable"},
    {"Name": "Sales of Product Income", "AccountType": "Income", "AccountSubType": "SalesOfProductIncome"},
    {"Name": "Services", "AccountType": "Income", "AccountSubType": "ServiceFeeIncome"},
    {"Name": "Discounts given", "AccountType": "Income", "AccountSubType": "DiscountsRefundsGiven"},
    {"Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold", "AccountSubType": "SuppliesMaterialsCogs"},
    {"Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable", "AccountSubType": "AccountsPayable"},
]
TERMS = [{"Name": "Due on receipt", "DueDays": 0}, {"Name": "Net 15", "DueDays": 15},
         {"Name": "Net 30", "DueDays": 30}, {"Name": "Net 60", "DueDays": 60}]
PAYMENT_METHODS = [{"Name": "Cash", "Type": "NON_CREDIT_CARD"}, {"Name": "Check", "Type": "NON_CREDIT_CARD"},
                   {"Name": "Visa", "Type": "CREDIT_CARD"}, {"Name": "MasterCard", "Type": "CREDIT_CARD"}]
CUSTOMERS = [
    {"DisplayName": "Amy's Bird Sanctuary", "GivenName": "Amy", "FamilyName": "Lauterbach",
     "PrimaryEmailAddr": {"Address": "Birds@Intuit.com"},
     "BillAddr": {"Line1": "4581 Finch St.", "City": "Bayshore", "CountrySubDivisionCode": "CA",
                  "PostalCode": "94326"}},
    {"DisplayName": "Bill's Windsurf Shop", "GivenName": "Bill", "FamilyName": "Lucchini",
     "PrimaryEmailAddr": {"Address": "Surf@Intuit.com"}},
    {"DisplayName": "Cool Cars", "GivenName": "Grace", "FamilyName": "Pariente",
     "PrimaryEmailAddr": {"Address": "Cool_Cars@intuit.com"}},
]


def _tax_records(now: datetime) -> tuple[list[dict], list[dict]]:
    stamp = meta_time(now)
    meta = {"CreateTime": stamp, "LastUpdatedTime": stamp}
    rate = {"Id": "1", "SyncToken": "0", "Name": "California", "Description": "Sales Tax", "Active": True,
            "RateValue": 8.0, "AgencyRef": {"value": "1"}, "SpecialTaxType": "NONE", "DisplayType": "ReadOnly",
            "EffectiveTaxRate": [{"RateValue": 8.0, "EffectiveDate": "2014-09-18T00:00:00-07:00"}],
            "domain": "QBO", "sparse": False, "MetaData": dict(meta)}
    codes = [
        {"Id": "TAX", "SyncToken": "0", "Name": "TAX", "Description": "TAX", "Taxable": True, "TaxGroup": False,
         "Active": True, "Hidden": False, "domain": "QBO", "sparse": False, "MetaData": dict(meta)},
        {"Id": "NON", "SyncToken": "0", "Name": "NON", "Description": "NON", "Taxable": False, "TaxGroup": False,
         "Active": True, "Hidden": False, "domain": "QBO", "sparse": False, "MetaData": dict(meta)},
        {"Id": "2", "SyncToken": "0", "Name": "California", "Description": "California sales tax",
         "Taxable": True, "TaxGroup": True, "Active": True, "Hidden": False,
         "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "1", "name": "California"},
                                                 "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}]},
         "domain": "QBO", "sparse": False, "MetaData": dict(meta)},
    ]
    return codes, [rate]


def build_company(realm: str, now: datetime, name: str = COMPANY_NAME) -> Company:
    """A new company with the sample chart of accounts, lists, preferences and a few customers and items."""
    company = Company(realm=realm, next_id=1)
    stamp = meta_time(now)
    meta = {"CreateTime": stamp, "LastUpdatedTime": stamp}
    codes, rates = _tax_records(now)
    company.records["TaxCode"] = {c["Id"]: c for c in codes}
    company.records["TaxRate"] = {r["Id"]: r for r in rates}
    company.records["CompanyInfo"] = {"1": {
        "Id": "1", "SyncToken": "0", "CompanyName": name, "LegalName": name, "Country": "US",
        "CompanyAddr": {"Line1": "123 Sierra Way", "City": "San Pablo", "CountrySubDivisionCode": "CA",
                        "PostalCode": "87999"},
        "Email": {"Address": "noreply@quickbooks.com"}, "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en", "CompanyStartDate": now.date().isoformat(),
        "domain": "QBO", "sparse": False, "MetaData": dict(meta)}}
    company.records["Preferences"] = {"1": {
        "Id": "1", "SyncToken": "0",
        "AccountingInfoPrefs": {"TrackDepartments": False, "ClassTrackingPerTxn": False,
                                "CustomerTerminology": "Customers"},
        "SalesFormsPrefs": {"CustomTxnNumbers": False, "AllowDiscount": True, "AllowDeposit": True,
                            "AllowShipping": False, "AutoApplyCredit": True},
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
        "TaxPrefs": {"UsingSalesTax": True},
        "domain": "QBO", "sparse": False, "MetaData": dict(meta)}}
    for table in ("CompanyInfo", "Preferences", "TaxCode", "TaxRate"):
        for record_id in company.records[table]:
            company.dirty.add((table, record_id))
    company.next_id = 3  # Ids 1 and 2 are taken by the tax records above
    rules = Rules(company, now)
    accounts = {a["Name"]: rules.create("Account", a) for a in ACCOUNTS}
    for term in TERMS:
        rules.create("Term", term)
    for method in PAYMENT_METHODS:
        rules.create("PaymentMethod", method)
    for customer in CUSTOMERS:
        rules.create("Customer", customer)
    income = {"value": accounts["Sales of Product Income"]["Id"]}
    services = {"value": accounts["Services"]["Id"]}
    rules.create("Item", {"Name": "Hours", "Type": "Service", "IncomeAccountRef": services, "UnitPrice": 0})
    rules.create("Item", {"Name": "Design", "Type": "Service", "IncomeAccountRef": services, "UnitPrice": 75})
    rules.create("Item", {"Name": "Gardening supplies", "Type": "NonInventory", "IncomeAccountRef": income,
                          "UnitPrice": 15})
    rules.create("Item", {
        "Name": "Rock Fountain", "Type": "Inventory", "IncomeAccountRef": income, "UnitPrice": 275,
        "ExpenseAccountRef": {"value": accounts["Cost of Goods Sold"]["Id"]},
        "AssetAccountRef": {"value": accounts["Inventory Asset"]["Id"]}, "TrackQtyOnHand": True,
        "QtyOnHand": 2, "InvStartDate": now.date().isoformat()})
    return company
