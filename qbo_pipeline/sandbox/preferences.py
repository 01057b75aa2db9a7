"""The company's Preferences: every section QBO returns, with a US sandbox company's defaults.

Sections and field names follow Intuit's Preferences entity (the sample response of the API
reference and the .NET SDK's Preferences classes). Updates are sparse by section: a field left
out keeps its value. Multicurrency, once on, stays on; the home currency never changes.
"""

from __future__ import annotations

import copy
from typing import Any

from qbo_pipeline.sandbox import errors as E

DEFAULTS: dict[str, Any] = {
    "AccountingInfoPrefs": {
        "TrackDepartments": False, "DepartmentTerminology": "Location", "ClassTrackingPerTxn": False,
        "ClassTrackingPerTxnLine": False, "CustomerTerminology": "Customers", "FirstMonthOfFiscalYear": "January",
        "UseAccountNumbers": True, "TaxYearMonth": "January", "TaxForm": "6",
    },
    "ProductAndServicesPrefs": {
        "ForSales": True, "ForPurchase": True, "QuantityWithPriceAndRate": True, "QuantityOnHand": True,
        "RevenueRecognitionEnabled": False, "RevenueRecognitionFrequency": "Monthly",
    },
    "SalesFormsPrefs": {
        "CustomField": [
            {"CustomField": [{"Name": "SalesFormsPrefs.UseSalesCustom1", "Type": "BooleanType", "BooleanValue": False},
                             {"Name": "SalesFormsPrefs.UseSalesCustom2", "Type": "BooleanType", "BooleanValue": False},
                             {"Name": "SalesFormsPrefs.UseSalesCustom3", "Type": "BooleanType",
                              "BooleanValue": False}]},
        ],
        "CustomTxnNumbers": False, "AllowDeposit": True, "AllowDiscount": True, "DefaultDiscountAccount": "86",
        "AllowEstimates": True, "EstimateMessage": "Please review the estimate below.  Feel free to contact us if "
        "you have any questions.\nWe look forward to working with you.", "ETransactionEnabledStatus": "NotApplicable",
        "ETransactionAttachPDF": False, "ETransactionPaymentEnabled": False, "IPNSupportEnabled": False,
        "AllowServiceDate": False, "AllowShipping": False, "DefaultTerms": {"value": "3"},
        "DefaultCustomerMessage": "Thank you for your business and have a great day!", "UsingProgressInvoicing": False,
        "UsingPriceLevels": False, "AutoApplyCredit": True, "AutoApplyPayments": True, "PrintItemWithZeroAmount": True,
        "DefaultShippingAccount": False, "SalesEmailBcc": {"Address": ""}, "SalesEmailCc": {"Address": ""},
    },
    "EmailMessagesPrefs": {
        "InvoiceMessage": {"Subject": "Invoice [Invoice No.] from Sandbox Company_US_1",
                           "Message": "Your invoice is attached.  Please remit payment at your earliest "
                           "convenience.\nThank you for your business - we appreciate it very much.\n\nSincerely,\n"
                           "Sandbox Company_US_1"},
        "EstimateMessage": {"Subject": "Estimate [Estimate No.] from Sandbox Company_US_1",
                            "Message": "Please review the estimate below.  Feel free to contact us if you have any "
                            "questions.\nWe look forward to working with you.\n\nSincerely,\nSandbox Company_US_1"},
        "SalesReceiptMessage": {"Subject": "Sales Receipt [Sales Receipt No.] from Sandbox Company_US_1",
                                "Message": "Your sales receipt is attached.\nThank you for your business - we "
                                "appreciate it very much.\n\nSincerely,\nSandbox Company_US_1"},
        "StatementMessage": {"Subject": "Statement from Sandbox Company_US_1",
                             "Message": "Your statement is attached.  Please remit payment at your earliest "
                             "convenience.\nThank you for your business - we appreciate it very much.\n\n"
                             "Sincerely,\nSandbox Company_US_1"},
    },
    "VendorAndPurchasesPrefs": {
        "TrackingByCustomer": True, "BillableExpenseTracking": True, "DefaultTerms": {"value": "3"},
        "DefaultMarkup": 0, "POCustomField": [
            {"CustomField": [{"Name": "PurchasePrefs.UsePurchaseCustom1", "Type": "BooleanType",
                              "BooleanValue": False}]},
        ],
    },
    "TimeTrackingPrefs": {
        "UseServices": True, "BillCustomers": True, "ShowBillRateToAll": False, "WorkWeekStartDate": "Monday",
        "MarkTimeEntriesBillable": True,
    },
    "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": False},
    "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
    "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
    "OtherPrefs": {
        "NameValue": [
            {"Name": "SalesFormsPrefs.DefaultCustomerMessage",
             "Value": "Thank you for your business and have a great day!"},
            {"Name": "SalesFormsPrefs.DefaultItem", "Value": "1"},
            {"Name": "DTXCopyMemo", "Value": "false"},
            {"Name": "UncategorizedAssetAccountId", "Value": "1"},
            {"Name": "UncategorizedIncomeAccountId", "Value": "1"},
            {"Name": "UncategorizedExpenseAccountId", "Value": "1"},
            {"Name": "MasAccountId", "Value": "1"},
            {"Name": "SFCEnabled", "Value": "false"},
            {"Name": "DataPartner", "Value": "false"},
            {"Name": "Vendor1099Enabled", "Value": "true"},
            {"Name": "TimeTrackingFeatureEnabled", "Value": "true"},
            {"Name": "FDPEnabled", "Value": "false"},
            {"Name": "ProjectsEnabled", "Value": "false"},
            {"Name": "DateFormat", "Value": "Month Date Year separated by a slash"},
            {"Name": "DateFormatMnemonic", "Value": "MMDDYYYY_SEP_SLASH"},
            {"Name": "NumberFormat", "Value": "US Number Format"},
            {"Name": "NumberFormatMnemonic", "Value": "US_NB"},
            {"Name": "WarnDuplicateCheckNumber", "Value": "true"},
            {"Name": "WarnDuplicateBillNumber", "Value": "false"},
            {"Name": "WarnDuplicateJournalNumber", "Value": "false"},
            {"Name": "WarnDuplicateInvoiceNumber", "Value": "true"},
        ],
    },
}
SECTIONS = tuple(DEFAULTS)


def merge(base: Any, changes: Any) -> Any:
    """Nested objects merge field by field; lists and scalars replace (QBO's sparse update of Preferences)."""
    if isinstance(base, dict) and isinstance(changes, dict):
        merged = dict(base)
        for key, value in changes.items():
            merged[key] = merge(base.get(key), value)
        return merged
    return copy.deepcopy(changes)


def with_defaults(record: dict) -> dict:
    """A Preferences record with every section and field QBO returns; values already set win."""
    return merge(copy.deepcopy(DEFAULTS), record)


def complete(record: dict, old: dict | None) -> None:
    """Validate a Preferences write against the stored record (in place)."""
    for section in SECTIONS:
        if section in record and not isinstance(record[section], dict):
            raise E.QBOFault(2010, "Request has invalid or unsupported property",
                             f"Property Name:{section} must be an object", element=section)
    if old is None:
        return
    was_on = old.get("CurrencyPrefs", {}).get("MultiCurrencyEnabled") in (True, "true")
    now_on = record.get("CurrencyPrefs", {}).get("MultiCurrencyEnabled") in (True, "true")
    if was_on and not now_on:
        raise E.business("Multicurrency cannot be turned off once it has been turned on.",
                         element="CurrencyPrefs.MultiCurrencyEnabled")
    old_home = (old.get("CurrencyPrefs", {}).get("HomeCurrency") or {}).get("value", "USD")
    new_home = (record.get("CurrencyPrefs", {}).get("HomeCurrency") or {}).get("value", old_home)
    if new_home != old_home:
        raise E.business("The home currency cannot be changed.", element="CurrencyPrefs.HomeCurrency")
    record.setdefault("CurrencyPrefs", {})["MultiCurrencyEnabled"] = now_on
