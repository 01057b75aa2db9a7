"""The sample company created on first start, shaped like Intuit's sandbox company."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from qbo_pipeline.sandbox import tax as T
from qbo_pipeline.sandbox.entities import COMPANY_TZ, Company, Rules, meta_time

DEFAULT_REALM = "9341453050298746"
COMPANY_NAME = "Sandbox Company_US_1"

# (Name, AccountType, AccountSubType): the chart of accounts of Intuit's US sample company
# ("Craig's Design and Landscaping Services"), less its sub-accounts. The first nine are the
# accounts this sandbox has always had; the pipeline's configuration names some of them.
CHART = [
    ("Checking", "Bank", "Checking"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Inventory Asset", "Other Current Asset", "Inventory"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Services", "Income", "ServiceFeeIncome"),
    ("Discounts given", "Income", "DiscountsRefundsGiven"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("Savings", "Bank", "Savings"),
    ("Prepaid Expenses", "Other Current Asset", "PrepaidExpenses"),
    ("Uncategorized Asset", "Other Current Asset", "OtherCurrentAssets"),
    ("Truck", "Fixed Asset", "Vehicles"),
    ("Mastercard", "Credit Card", "CreditCard"),
    ("Visa", "Credit Card", "CreditCard"),
    ("Board of Equalization Payable", "Other Current Liability", "GlobalTaxPayable"),
    ("Arizona Dept. of Revenue Payable", "Other Current Liability", "GlobalTaxPayable"),
    ("Loan Payable", "Other Current Liability", "LoanPayable"),
    ("Notes Payable", "Long Term Liability", "NotesPayable"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
    ("Retained Earnings", "Equity", "RetainedEarnings"),
    ("Design income", "Income", "ServiceFeeIncome"),
    ("Fees Billed", "Income", "ServiceFeeIncome"),
    ("Landscaping Services", "Income", "ServiceFeeIncome"),
    ("Pest Control Services", "Income", "OtherPrimaryIncome"),
    ("Refunds-Allowances", "Income", "DiscountsRefundsGiven"),
    ("Unapplied Cash Payment Income", "Income", "UnappliedCashPaymentIncome"),
    ("Interest Earned", "Other Income", "InterestEarned"),
    ("Advertising", "Expense", "AdvertisingPromotional"),
    ("Automobile", "Expense", "Auto"),
    ("Bank Charges", "Expense", "BankCharges"),
    ("Commissions & fees", "Expense", "OtherMiscellaneousServiceCost"),
    ("Dues & Subscriptions", "Expense", "DuesSubscriptions"),
    ("Equipment Rental", "Expense", "EquipmentRental"),
    ("Insurance", "Expense", "Insurance"),
    ("Job Expenses", "Expense", "CostOfLabor"),
    ("Legal & Professional Fees", "Expense", "LegalProfessionalFees"),
    ("Maintenance and Repair", "Expense", "RepairMaintenance"),
    ("Meals and Entertainment", "Expense", "EntertainmentMeals"),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("Purchases", "Expense", "SuppliesMaterials"),
    ("Rent or Lease", "Expense", "RentOrLeaseOfBuildings"),
    ("Supplies", "Expense", "SuppliesMaterials"),
    ("Taxes & Licenses", "Expense", "TaxesPaid"),
    ("Travel", "Expense", "Travel"),
    ("Travel Meals", "Expense", "TravelMeals"),
    ("Uncategorized Expense", "Expense", "OtherMiscellaneousServiceCost"),
    ("Utilities", "Expense", "Utilities"),
    ("Miscellaneous", "Other Expense", "OtherMiscellaneousExpense"),
    ("Penalties & Settlements", "Other Expense", "PenaltiesSettlements"),
]
ACCOUNTS = [{"Name": name, "AccountType": kind, "AccountSubType": sub} for name, kind, sub in CHART]
# Ids as Intuit's sample company has them (Ids are per entity in QBO), so that code written against
# Intuit's sandbox, which names records by Id, finds the same records here. Confirmed by Intuit's
# published request examples and client-library suites: accounts Services 1, Undeposited Funds 4,
# Advertising 7, A/P 33, Checking 35, Mastercard 41, Visa 42, Pest Control Services 54, Automobile 55,
# Sales of Product Income 79, Cost of Goods Sold 80, Inventory Asset 81, A/R 84, Discounts given 86,
# Arizona Dept. of Revenue Payable 89; items Services 1, Concrete 3, Lighting 8, Maintenance & Repair 9,
# Pest Control 10. The others follow Intuit's numbering as far as it is known, on free Ids below 100.
ACCOUNT_IDS = {
    "Services": 1, "Retained Earnings": 2, "Prepaid Expenses": 3, "Undeposited Funds": 4, "Fees Billed": 5,
    "Refunds-Allowances": 6, "Advertising": 7, "Bank Charges": 8, "Commissions & fees": 9,
    "Dues & Subscriptions": 10, "Insurance": 11, "Legal & Professional Fees": 12, "Meals and Entertainment": 13,
    "Miscellaneous": 14, "Office Expenses": 15, "Rent or Lease": 17, "Supplies": 20, "Taxes & Licenses": 21,
    "Travel": 22, "Travel Meals": 23, "Utilities": 24, "Interest Earned": 25, "Penalties & Settlements": 27,
    "Equipment Rental": 29, "Uncategorized Expense": 30, "Uncategorized Asset": 32,
    "Accounts Payable (A/P)": 33, "Opening Balance Equity": 34, "Checking": 35, "Savings": 36, "Truck": 37,
    "Mastercard": 41, "Visa": 42, "Loan Payable": 43, "Notes Payable": 44, "Landscaping Services": 45,
    "Pest Control Services": 54, "Automobile": 55, "Job Expenses": 58, "Maintenance and Repair": 72,
    "Purchases": 78, "Sales of Product Income": 79, "Cost of Goods Sold": 80, "Inventory Asset": 81,
    "Design income": 82, "Accounts Receivable (A/R)": 84, "Discounts given": 86,
    "Unapplied Cash Payment Income": 87, "Board of Equalization Payable": 88,
    "Arizona Dept. of Revenue Payable": 89,
}
ITEM_IDS = {
    "Services": 1, "Hours": 2, "Concrete": 3, "Design": 4, "Rock Fountain": 5, "Gardening": 6,
    "Installation": 7, "Lighting": 8, "Maintenance & Repair": 9, "Pest Control": 10, "Pump": 11,
    "Refunds & Allowances": 12, "Rocks": 13, "Sod": 14, "Soil": 15, "Sprinkler Heads": 16,
    "Sprinkler Pipes": 17, "Trimming": 18, "Gardening supplies": 19,
}
# the sample's other records take Ids from here (the tax lists hold 1 to 3)
FIRST_OTHER_ID = 100
ACCOUNTS[0]["AcctNum"] = "1010"
TERMS = [{"Name": "Due on receipt", "DueDays": 0}, {"Name": "Net 15", "DueDays": 15},
         {"Name": "Net 30", "DueDays": 30}, {"Name": "Net 60", "DueDays": 60}, {"Name": "Net 10", "DueDays": 10}]
PAYMENT_METHODS = [{"Name": "Cash", "Type": "NON_CREDIT_CARD"}, {"Name": "Check", "Type": "NON_CREDIT_CARD"},
                   {"Name": "Visa", "Type": "CREDIT_CARD"}, {"Name": "MasterCard", "Type": "CREDIT_CARD"},
                   {"Name": "American Express", "Type": "CREDIT_CARD"},
                   {"Name": "Diners Club", "Type": "CREDIT_CARD"}, {"Name": "Discover", "Type": "CREDIT_CARD"}]


def _person(display: str, given: str = "", family: str = "", email: str = "", city: str = "",
            line1: str = "", postal: str = "", phone: str = "", company: str = "") -> dict:
    body: dict = {"DisplayName": display}
    if given:
        body["GivenName"] = given
    if family:
        body["FamilyName"] = family
    if company:
        body["CompanyName"] = company
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
    if phone:
        body["PrimaryPhone"] = {"FreeFormNumber": phone}
    if city:
        body["BillAddr"] = {"Line1": line1, "City": city, "CountrySubDivisionCode": "CA", "PostalCode": postal}
    return body


CUSTOMERS = [
    _person("Amy's Bird Sanctuary", "Amy", "Lauterbach", "Birds@Intuit.com", "Bayshore", "4581 Finch St.", "94326",
            "(650) 555-3311"),
    _person("Bill's Windsurf Shop", "Bill", "Lucchini", "Surf@Intuit.com", "Half Moon Bay", "12 Ocean Dr.", "94213",
            "(415) 444-6538"),
    _person("Cool Cars", "Grace", "Pariente", "Cool_Cars@intuit.com", "Half Moon Bay", "65 Ocean Dr.", "94213",
            "(415) 555-9933"),
    _person("Diego Rodriguez", "Diego", "Rodriguez", "Diego@Rodriguez.com", "Middlefield", "321 Channing", "94303",
            "(650) 555-4477"),
    _person("Dukes Basketball Camp", "Peter", "Dukes", "Dukes_bball@intuit.com", "Sunnyvale", "25 Court St.",
            "94086", "(520) 420-5638"),
    _person("Dylan Sollfrank", "Dylan", "Sollfrank"),
    _person("Freeman Sporting Goods", "Kirby", "Freeman", "Sporting_goods@intuit.com", "Middlefield",
            "370 Easy St.", "94482", "(650) 555-0987", "Freeman Sporting Goods"),
    _person("Geeta Kalapatapu", "Geeta", "Kalapatapu", "Geeta@Kalapatapu.com", "Middlefield", "1987 Main St.",
            "94303", "(650) 555-0022"),
    _person("Gevelber Photography", "Lisa", "Gevelber", "Photography@intuit.com", "San Jose", "1103 Water St.",
            "94303", "(415) 222-4345"),
    _person("Jeff's Jalopies", "Jeff", "Chin", "Jalopies@intuit.com", "Middlefield", "12 Willow Rd.", "94303",
            "(650) 555-8989"),
    _person("John Melton", "John", "Melton", "John@Melton.com", "Middlefield", "85 Pine St.", "94303",
            "(650) 555-5879"),
    _person("Kate Whelan", "Kate", "Whelan", "Kate@Whelan.com", "Bayshore", "45 First St.", "94326",
            "(650) 554-8822"),
    _person("Kookies by Kathy", "Kathy", "Kuplis", "qbwebsamplecompany@yahoo.com", "Middlefield",
            "789 Sugar Lane", "94303", "(650) 555-7896"),
    _person("Mark Cho", "Mark", "Cho", "Mark@Cho.com", "Middlefield", "36 Willow Rd", "94303", "(650) 554-1479"),
    _person("Paulsen Medical Supplies", "Kathy", "Paulsen", "Medical@intuit.com", "Middlefield",
            "900 Main St.", "94303", "(650) 557-8855"),
    _person("Pye's Cakes", "Karen", "Pye", "pyescakes@intuit.com", "Bayshore", "350 Mountain View Dr.", "94326",
            "(973) 555-4652"),
    _person("Rago Travel Agency", "Nicola", "Rago", "Rago_Travel@intuit.com", "Bayshore", "753 Cedar Ave.",
            "94326", "(650) 555-1596"),
    _person("Red Rock Diner", "Stephanie", "Martini", "qbwebsamplecompany@yahoo.com", "Bayshore",
            "500 Red Rock Rd.", "94326", "(650) 555-4973"),
    _person("Rondonuwu Fruit and Vegi", "Tony", "Rondonuwu", "Tony@Rondonuwu.com", "Middlefield",
            "847 California Ave.", "94303", "(650) 555-2645"),
    _person("Shara Barnett", "Shara", "Barnett", "Design@intuit.com", "Middlefield", "19 Main St.", "94303",
            "(650) 555-4563"),
    _person("Sonnenschein Family Store", "Russ", "Sonnenschein", "Familiystore@intuit.com", "Middlefield",
            "5647 Cypress Hill Ave.", "94303", "(650) 557-8463"),
    _person("Sushi by Katsuyuki", "Katsuyuki", "Yanagawa", "Sushi@intuit.com", "Middlefield", "898 Elm St.",
            "94303", "(505) 570-0147"),
    _person("Travis Waldron", "Travis", "Waldron", "Travis@Waldron.com", "Monlo Park", "78 First St.", "94304",
            "(650) 555-9999"),
    _person("Video Games by Dan", "Dan", "Miller", "Videogames@intuit.com", "Middlefield", "1500 Main St.",
            "94303", "(650) 555-3456"),
    _person("Wedding Planning by Whitney", "Whitney", "Lee", "Dream_Wedding@intuit.com", "Middlefield",
            "135 Broadway", "94303", "(650) 557-2473"),
    _person("Weiskopf Consulting", "Nicole", "Weiskopf", "Consulting@intuit.com", "Bayshore", "45612 Main St.",
            "94326", "(650) 555-1423"),
]
# jobs (sub-customers): (parent DisplayName, job DisplayName)
JOBS = [("Freeman Sporting Goods", "0969 Ocean View Road"), ("Freeman Sporting Goods", "55 Twin Lane"),
        ("Shara Barnett", "Barnett Design")]
VENDORS = [
    _person(name, email=email) for name, email in (
        ("A Rental", "Rental@intuit.com"), ("Bob's Burger Joint", ""), ("Books by Bessie", "Books@Intuit.com"),
        ("Brosnahan Insurance Agency", ""), ("Cal Telephone", ""), ("Chin's Gas and Oil", ""),
        ("Cigna Health Care", ""), ("Computers by Jenni", "Msfixit@Intuit.com"),
        ("Diego's Road Warrior Bodyshop", ""), ("EDD", ""), ("Ellis Equipment Rental", "Rental@intuit.com"),
        ("Fidelity", ""), ("Hall Properties", ""), ("Hicks Hardware", ""), ("Lee Advertising", ""),
        ("Mahoney Mugs", ""), ("Met Life Dental", ""), ("National Eye Care", "Nateyecare@intuit.com"),
        ("Norton Lumber and Building Materials", "Materials@intuit.com"), ("PG&E", "utilities@noemail.com"),
        ("Pam Seitz", "SeitzCPA@noemail.com"), ("Robertson & Associates", ""),
        ("Squeaky Kleen Car Wash", ""), ("Tania's Nursery", "plantqueen@taniasnursery.com"),
        ("Tim Philip Masonry", "tim.philip@timphilipmasonry.com"), ("Tony Rondonuwu", "tonyrjr@intuit.com"),
        ("United States Treasury", "taxesaregreat@intuit.com"))
]
EMPLOYEES = [{"GivenName": "Emily", "FamilyName": "Platt", "DisplayName": "Emily Platt"},
             {"GivenName": "John", "FamilyName": "Johnson", "DisplayName": "John Johnson"}]
# (Name, Type, income account, UnitPrice, quantity on hand for inventory items)
ITEMS = [
    ("Hours", "Service", "Services", 0, None),
    ("Design", "Service", "Design income", 75, None),
    ("Concrete", "Service", "Landscaping Services", 0, None),
    ("Gardening", "Service", "Landscaping Services", 0, None),
    ("Installation", "Service", "Landscaping Services", 50, None),
    ("Lighting", "Service", "Landscaping Services", 0, None),
    ("Maintenance & Repair", "Service", "Landscaping Services", 0, None),
    ("Pest Control", "Service", "Pest Control Services", 35, None),
    ("Refunds & Allowances", "NonInventory", "Refunds-Allowances", 0, None),
    ("Rocks", "Service", "Landscaping Services", 0, None),
    ("Services", "Service", "Services", 0, None),
    ("Sod", "Service", "Landscaping Services", 0, None),
    ("Soil", "Service", "Landscaping Services", 10, None),
    ("Trimming", "Service", "Landscaping Services", 35, None),
    ("Gardening supplies", "NonInventory", "Sales of Product Income", 15, None),
    ("Pump", "Inventory", "Sales of Product Income", 15, 25),
    ("Rock Fountain", "Inventory", "Sales of Product Income", 275, 2),
    ("Sprinkler Heads", "Inventory", "Sales of Product Income", 2, 25),
    ("Sprinkler Pipes", "Inventory", "Sales of Product Income", 4, 31),
]
# Invoices: (customer, days before the company's creation, term, [(item, qty, unit price)])
INVOICES = [
    ("Amy's Bird Sanctuary", 95, "Net 30", [("Rock Fountain", 1, 275), ("Pump", 1, 15)]),
    ("Bill's Windsurf Shop", 80, "Net 30", [("Trimming", 2, 35), ("Hours", 3, 5)]),
    ("Cool Cars", 70, "Net 15", [("Design", 4, 75), ("Installation", 2, 50)]),
    ("Dukes Basketball Camp", 62, "Net 30", [("Pest Control", 1, 35), ("Soil", 5, 10)]),
    ("Freeman Sporting Goods", 50, "Net 30", [("Gardening", 1, 120), ("Sprinkler Heads", 10, 2)]),
    ("Geeta Kalapatapu", 41, "Due on receipt", [("Design", 6, 75)]),
    ("Jeff's Jalopies", 35, "Net 30", [("Sprinkler Pipes", 5, 4), ("Installation", 1, 50)]),
    ("Kookies by Kathy", 28, "Net 30", [("Pest Control", 2, 35)]),
    ("Red Rock Diner", 20, "Net 15", [("Maintenance & Repair", 1, 90), ("Rocks", 3, 25)]),
    ("Sushi by Katsuyuki", 12, "Net 30", [("Trimming", 3, 35), ("Soil", 2, 10)]),
    ("Travis Waldron", 6, "Net 30", [("Design", 2, 75), ("Lighting", 1, 45)]),
    ("Weiskopf Consulting", 2, "Net 30", [("Services", 1, 375)]),
]
# Payments: (index into INVOICES, amount, days before creation, method, deposit account)
PAYMENTS = [
    (0, 290.00, 60, "Check", "Undeposited Funds"),
    (1, 85.00, 50, "Visa", "Checking"),
    (2, 200.00, 40, "Check", "Undeposited Funds"),
    (5, 450.00, 40, "Cash", "Checking"),
    (6, 70.00, 10, "MasterCard", "Undeposited Funds"),
    (7, 30.00, 5, "Check", "Undeposited Funds"),
]
# The bookkeeping side of Intuit's sample company, each list dated in days before the company's creation.
CLASSES = ["Design", "Landscaping", "Maintenance"]
DEPARTMENTS = ["Half Moon Bay", "Middlefield"]  # QBO's "locations"
# Bills: (vendor, days before creation, term, [(expense account, amount, description)])
BILLS = [
    ("Norton Lumber and Building Materials", 45, "Net 30", [("Job Expenses", 205.00, "Lumber")]),
    ("PG&E", 30, "Net 15", [("Utilities", 114.09, "Gas and electric")]),
    ("Brosnahan Insurance Agency", 25, "Net 30", [("Insurance", 241.23, "Truck insurance")]),
    ("Robertson & Associates", 8, "Net 30", [("Legal & Professional Fees", 315.00, "Bookkeeping")]),
]
# Bill payments by check from Checking: (index into BILLS, amount, days before creation)
BILL_PAYMENTS = [(0, 205.00, 20), (1, 114.09, 5)]
# Purchases (QBO's expenses and checks): (payee vendor, days, PaymentType, paid from, [(account, amount, memo)])
PURCHASES = [
    ("Chin's Gas and Oil", 40, "CreditCard", "Mastercard", [("Automobile", 63.15, "Fuel")]),
    ("Squeaky Kleen Car Wash", 33, "Cash", "Checking", [("Automobile", 19.99, "Car wash")]),
    ("Bob's Burger Joint", 18, "CreditCard", "Visa", [("Meals and Entertainment", 18.97, "Lunch with client")]),
    ("Hicks Hardware", 10, "Check", "Checking", [("Supplies", 88.09, "Hardware")]),
]
# Sales receipts: (customer, days, deposited to, [(item, qty, unit price)])
SALES_RECEIPTS = [
    ("Kate Whelan", 55, "Undeposited Funds", [("Sprinkler Heads", 5, 2), ("Trimming", 1, 35)]),
    ("Dylan Sollfrank", 30, "Checking", [("Design", 3, 75)]),
    ("Pye's Cakes", 15, "Undeposited Funds", [("Gardening", 1, 80)]),
]
# One deposit to Checking, 25 days before creation, of what sat in Undeposited Funds by then:
# PAYMENTS[0] and [2] and SALES_RECEIPTS[0]
DEPOSIT_DAYS, DEPOSIT_PAYMENTS, DEPOSIT_RECEIPTS = 25, (0, 2), (0,)
# Estimates: (customer, days, [(item, qty, unit price)])
ESTIMATES = [
    ("Paulsen Medical Supplies", 20, [("Rock Fountain", 1, 275), ("Installation", 4, 50)]),
    ("Geeta Kalapatapu", 9, [("Design", 5, 75)]),
    ("Sonnenschein Family Store", 3, [("Pest Control", 2, 35)]),
]
# (from, to, amount, days): savings put aside; (card, bank, amount, days): a card bill paid
TRANSFERS = [("Checking", "Savings", 500.00, 22)]
CREDIT_CARD_PAYMENTS = [("Mastercard", "Checking", 63.15, 12)]
# the sample's records all have Ids below this one; records clients create get Ids from it up
FIRST_CLIENT_ID = 1000


def _tax_records(now: datetime) -> dict[str, list[dict]]:
    """Tax agencies, rates and codes (read-only in QBO's API): California, and Arizona with Tucson."""
    stamp = meta_time(now)

    def common(record: dict) -> dict:
        return {**record, "SyncToken": "0", "domain": "QBO", "sparse": False,
                "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}}

    def rate(rate_id: str, name: str, value: float, agency: str) -> dict:
        return common({"Id": rate_id, "Name": name, "Description": "Sales Tax", "Active": True,
                       "RateValue": value, "AgencyRef": {"value": agency}, "SpecialTaxType": "NONE",
                       "DisplayType": "ReadOnly",
                       "EffectiveTaxRate": [{"RateValue": value, "EffectiveDate": "2014-09-18T00:00:00-07:00"}]})

    def group(code_id: str, name: str, rates: list[tuple[str, str]]) -> dict:
        return common({"Id": code_id, "Name": name, "Description": f"{name} sales tax", "Taxable": True,
                       "TaxGroup": True, "Active": True, "Hidden": False,
                       "SalesTaxRateList": {"TaxRateDetail": [
                           {"TaxRateRef": {"value": rid, "name": rname}, "TaxTypeApplicable": "TaxOnAmount",
                            "TaxOrder": 0} for rid, rname in rates]},
                       "PurchaseTaxRateList": {"TaxRateDetail": []}})

    agencies = [common({"Id": "1", "DisplayName": "Board of Equalization", "TaxTrackedOnSales": True,
                        "TaxTrackedOnPurchases": False}),
                common({"Id": "2", "DisplayName": "Arizona Dept. of Revenue", "TaxTrackedOnSales": True,
                        "TaxTrackedOnPurchases": False})]
    rates = [rate("1", "California", 8.0, "1"), rate("2", "AZ State tax", 7.1, "2"),
             rate("3", "Tucson City", 2.0, "2")]
    codes = [
        common({"Id": "TAX", "Name": "TAX", "Description": "TAX", "Taxable": True, "TaxGroup": False,
                "Active": True, "Hidden": False}),
        common({"Id": "NON", "Name": "NON", "Description": "NON", "Taxable": False, "TaxGroup": False,
                "Active": True, "Hidden": False}),
        group("2", "California", [("1", "California")]),
        group("3", "Tucson", [("2", "AZ State tax"), ("3", "Tucson City")]),
    ]
    return {"TaxAgency": agencies, "TaxRate": rates, "TaxCode": codes}


def build_company(realm: str, now: datetime, name: str | None = None, country: str = "US") -> Company:
    """A new company modelled on Intuit's US sandbox company: chart of accounts, lists, people, items,
    tax codes and rates, and a few months of invoices and payments (some open, some overdue).

    ``country`` CA or GB gives the same company under QBO's non-US tax model (its edition's tax
    codes, rates, agencies, tax accounts and home currency; ``tax.py``)."""
    country = T.check_country(country)
    edition = T.EDITIONS.get(country)
    name = name or (edition.company_name if edition else COMPANY_NAME)
    company = Company(realm=realm, next_id=1)
    stamp = meta_time(now)
    meta = {"CreateTime": stamp, "LastUpdatedTime": stamp}
    first_free = 4  # the US records take Ids 1 to 3
    if edition is None:
        tax_tables = _tax_records(now)
    else:
        tax_tables, first_free = T.tax_records(country, 1, lambda r: {
            **r, "SyncToken": "0", "domain": "QBO", "sparse": False, "MetaData": dict(meta)})
    # TaxAgency is stored for when the sandbox serves it (Ids referenced by the rates' AgencyRef)
    for table, records in tax_tables.items():
        company.records[table] = {r["Id"]: r for r in records}
    company.records["CompanyInfo"] = {"1": {
        "Id": "1", "SyncToken": "0", "CompanyName": name, "LegalName": name, "Country": country,
        "CompanyAddr": dict(edition.address) if edition else {
            "Line1": "123 Sierra Way", "City": "San Pablo", "CountrySubDivisionCode": "CA", "PostalCode": "87999"},
        "Email": {"Address": "noreply@quickbooks.com"}, "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en", "CompanyStartDate": now.date().isoformat(),
        "domain": "QBO", "sparse": False, "MetaData": dict(meta)}}
    company.records["Preferences"] = {"1": {
        "Id": "1", "SyncToken": "0",
        "AccountingInfoPrefs": {"TrackDepartments": False, "ClassTrackingPerTxn": False,
                                "CustomerTerminology": "Customers"},
        "SalesFormsPrefs": {"CustomTxnNumbers": False, "AllowDiscount": True, "AllowDeposit": True,
                            "AllowShipping": False, "AutoApplyCredit": True},
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": edition.currency if edition else "USD"}},
        "TaxPrefs": {"UsingSalesTax": True},
        "domain": "QBO", "sparse": False, "MetaData": dict(meta)}}
    for table in ("CompanyInfo", "Preferences", "TaxCode", "TaxRate", "TaxAgency"):
        for record_id in company.records[table]:
            company.dirty.add((table, record_id))
    rules = Rules(company, now)
    accounts = {}
    unnumbered = []  # an edition's own tax accounts have no Id in Intuit's US sample company
    for account in T.chart(country, ACCOUNTS):
        if account["Name"] not in ACCOUNT_IDS:
            unnumbered.append(account)
            continue
        company.next_id = ACCOUNT_IDS[account["Name"]]
        accounts[account["Name"]] = rules.create("Account", account)
    company.next_id = max(FIRST_OTHER_ID, first_free)
    for account in unnumbered:
        accounts[account["Name"]] = rules.create("Account", account)
    line_code = T.sample_line_code(company)
    terms = {t["Name"]: rules.create("Term", t) for t in TERMS}
    methods = {m["Name"]: rules.create("PaymentMethod", m) for m in PAYMENT_METHODS}
    customers = {c["DisplayName"]: rules.create("Customer", c) for c in CUSTOMERS}
    for parent, job in JOBS:
        customers[job] = rules.create("Customer", {"DisplayName": job, "Job": True, "BillWithParent": True,
                                                   "ParentRef": {"value": customers[parent]["Id"]}})
    for vendor in VENDORS:
        rules.create("Vendor", vendor)
    for employee in EMPLOYEES:
        rules.create("Employee", employee)
    items = {}
    for item_name, kind, income, price, on_hand in ITEMS:
        body = {"Name": item_name, "Type": kind, "IncomeAccountRef": {"value": accounts[income]["Id"]},
                "UnitPrice": price}
        if kind == "Inventory":
            body.update({"ExpenseAccountRef": {"value": accounts["Cost of Goods Sold"]["Id"]},
                         "AssetAccountRef": {"value": accounts["Inventory Asset"]["Id"]}, "TrackQtyOnHand": True,
                         "QtyOnHand": on_hand, "InvStartDate": (now - timedelta(days=365)).date().isoformat()})
        company.next_id, other_id = ITEM_IDS[item_name], company.next_id
        items[item_name] = rules.create("Item", body)
        company.next_id = other_id
    today = now.astimezone(COMPANY_TZ).date()
    invoices = []
    for customer, days_ago, term, lines in INVOICES:
        invoices.append(rules.create("Invoice", {
            "CustomerRef": {"value": customers[customer]["Id"]}, "SalesTermRef": {"value": terms[term]["Id"]},
            "TxnDate": (today - timedelta(days=days_ago)).isoformat(),
            "Line": [{"DetailType": "SalesItemLineDetail", "Amount": round(qty * price, 2),
                      "Description": item_name,
                      "SalesItemLineDetail": {"ItemRef": {"value": items[item_name]["Id"]}, "Qty": qty,
                                              "UnitPrice": price, "TaxCodeRef": {"value": line_code}}}
                     for item_name, qty, price in lines]}))
    payments = []
    for number, (index, amount, days_ago, method, account) in enumerate(PAYMENTS, start=1):
        invoice = invoices[index]
        payments.append(rules.create("Payment", {
            "CustomerRef": {"value": invoice["CustomerRef"]["value"]}, "TotalAmt": amount,
            "TxnDate": (today - timedelta(days=days_ago)).isoformat(), "PaymentRefNum": f"{2000 + number}",
            "PaymentMethodRef": {"value": methods[method]["Id"]},
            "DepositToAccountRef": {"value": accounts[account]["Id"]},
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}))
    _bookkeeping(rules, today, accounts, terms, customers, items, payments, line_code)
    company.next_id = max(company.next_id, FIRST_CLIENT_ID)
    return company


def _bookkeeping(rules: Rules, today: date, accounts: dict, terms: dict, customers: dict, items: dict,
                 payments: list[dict], line_code: str) -> None:
    """Classes, locations, bills and their payments, expenses, sales receipts, a deposit, estimates, a
    transfer and a card payment: each posts both sides, so the sample's reports balance."""
    def day(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).isoformat()

    def ref(records: dict, name: str) -> dict:
        return {"value": records[name]["Id"]}

    def sales_lines(lines: list[tuple[str, int, float]]) -> list[dict]:
        return [{"DetailType": "SalesItemLineDetail", "Amount": round(qty * price, 2), "Description": name,
                 "SalesItemLineDetail": {"ItemRef": ref(items, name), "Qty": qty, "UnitPrice": price,
                                         "TaxCodeRef": {"value": line_code}}} for name, qty, price in lines]

    def expense_lines(lines: list[tuple[str, float, str]]) -> list[dict]:
        return [{"DetailType": "AccountBasedExpenseLineDetail", "Amount": amount, "Description": memo,
                 "AccountBasedExpenseLineDetail": {"AccountRef": ref(accounts, account)}}
                for account, amount, memo in lines]

    vendors = {v["DisplayName"]: v for v in rules.company.table("Vendor").values()}
    for name in CLASSES:
        rules.create("Class", {"Name": name})
    for name in DEPARTMENTS:
        rules.create("Department", {"Name": name})
    bills = [rules.create("Bill", {"VendorRef": ref(vendors, vendor), "SalesTermRef": ref(terms, term),
                                   "TxnDate": day(days_ago), "Line": expense_lines(lines)})
             for vendor, days_ago, term, lines in BILLS]
    for index, amount, days_ago in BILL_PAYMENTS:
        rules.create("BillPayment", {
            "VendorRef": {"value": bills[index]["VendorRef"]["value"]}, "PayType": "Check", "TotalAmt": amount,
            "TxnDate": day(days_ago), "CheckPayment": {"BankAccountRef": ref(accounts, "Checking")},
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bills[index]["Id"], "TxnType": "Bill"}]}]})
    for vendor, days_ago, kind, paid_from, lines in PURCHASES:
        rules.create("Purchase", {"PaymentType": kind, "AccountRef": ref(accounts, paid_from),
                                  "EntityRef": {**ref(vendors, vendor), "type": "Vendor"},
                                  "TxnDate": day(days_ago), "Line": expense_lines(lines)})
    receipts = [rules.create("SalesReceipt", {
        "CustomerRef": ref(customers, customer), "TxnDate": day(days_ago),
        "DepositToAccountRef": ref(accounts, account), "Line": sales_lines(lines)})
        for customer, days_ago, account, lines in SALES_RECEIPTS]
    taken = [("Payment", payments[i]) for i in DEPOSIT_PAYMENTS] + \
        [("SalesReceipt", receipts[i]) for i in DEPOSIT_RECEIPTS]
    rules.create("Deposit", {
        "DepositToAccountRef": ref(accounts, "Checking"), "TxnDate": day(DEPOSIT_DAYS),
        "Line": [{"Amount": txn["TotalAmt"], "LinkedTxn": [{"TxnId": txn["Id"], "TxnType": kind, "TxnLineId": "0"}]}
                 for kind, txn in taken]})
    for customer, days_ago, lines in ESTIMATES:
        rules.create("Estimate", {"CustomerRef": ref(customers, customer), "TxnDate": day(days_ago),
                                  "Line": sales_lines(lines)})
    for source, target, amount, days_ago in TRANSFERS:
        rules.create("Transfer", {"FromAccountRef": ref(accounts, source), "ToAccountRef": ref(accounts, target),
                                  "Amount": amount, "TxnDate": day(days_ago)})
    for card, bank, amount, days_ago in CREDIT_CARD_PAYMENTS:
        rules.create("CreditCardPayment", {"CreditCardAccountRef": ref(accounts, card),
                                           "BankAccountRef": ref(accounts, bank), "Amount": amount,
                                           "TxnDate": day(days_ago)})
