"""python-quickbooks' own objects for the bookkeeping entities, unchanged but for the base URL.

The library sends every attribute it has (zeros, empty lists) and builds its upload body with bare
LF line ends and base64 content; QBO takes both, so the sandbox must too.
"""

from __future__ import annotations

import pytest

pytest.importorskip("quickbooks", reason="python-quickbooks is a dev dependency")

from quickbooks.objects.account import Account  # noqa: E402
from quickbooks.objects.attachable import Attachable, AttachableRef  # noqa: E402
from quickbooks.objects.base import LinkedTxn  # noqa: E402
from quickbooks.objects.bill import Bill  # noqa: E402
from quickbooks.objects.billpayment import BillPayment, BillPaymentLine, CheckPayment  # noqa: E402
from quickbooks.objects.customer import Customer  # noqa: E402
from quickbooks.objects.deposit import Deposit, DepositLine  # noqa: E402
from quickbooks.objects.detailline import (  # noqa: E402
    AccountBasedExpenseLine,
    AccountBasedExpenseLineDetail,
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.employee import Employee  # noqa: E402
from quickbooks.objects.item import Item  # noqa: E402
from quickbooks.objects.journalentry import JournalEntry, JournalEntryLine, JournalEntryLineDetail  # noqa: E402
from quickbooks.objects.preferences import Preferences  # noqa: E402
from quickbooks.objects.salesreceipt import SalesReceipt  # noqa: E402
from quickbooks.objects.taxcode import TaxCode  # noqa: E402
from quickbooks.objects.timeactivity import TimeActivity  # noqa: E402
from quickbooks.objects.trackingclass import Class  # noqa: E402
from quickbooks.objects.vendor import Vendor  # noqa: E402

from qbo_pipeline_tests.sandbox.test_sandbox_compat import _connect, _quickbooks  # noqa: E402


def _expense_line(account, amount):
    line = AccountBasedExpenseLine()
    line.Amount = amount
    line.AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail()
    line.AccountBasedExpenseLineDetail.AccountRef = account.to_ref()
    return line


def _link(txn, kind):
    link = LinkedTxn()
    link.TxnId, link.TxnType = txn.Id, kind
    return link


def test_python_quickbooks_books_a_month(sandbox_unlimited, monkeypatch, tmp_path):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth, realm = _connect(sandbox_unlimited)
    qb = _quickbooks(sandbox_unlimited, auth, realm)
    vendor = Vendor()
    vendor.DisplayName = "Library Vendor"
    vendor.save(qb=qb)
    travel = Account()
    travel.Name, travel.AccountType, travel.AccountSubType = "Library Travel", "Expense", "Travel"
    travel.save(qb=qb)
    checking = Account.where("Name = 'Checking'", qb=qb)[0]

    bill = Bill()
    bill.VendorRef = vendor.to_ref()
    bill.Line.append(_expense_line(travel, 200))
    bill.save(qb=qb)
    payment = BillPayment()
    payment.VendorRef, payment.PayType, payment.TotalAmt = vendor.to_ref(), "Check", 200
    payment.CheckPayment = CheckPayment()
    payment.CheckPayment.BankAccountRef = checking.to_ref()
    line = BillPaymentLine()
    line.Amount = 200
    line.LinkedTxn.append(_link(bill, "Bill"))
    payment.Line.append(line)
    payment.save(qb=qb)
    assert Bill.get(bill.Id, qb=qb).Balance == 0

    customer = Customer()
    customer.DisplayName = "Library Customer"
    customer.save(qb=qb)
    receipt = SalesReceipt()
    receipt.CustomerRef = customer.to_ref()
    sale = SalesItemLine()
    sale.Amount = 30
    sale.SalesItemLineDetail = SalesItemLineDetail()
    sale.SalesItemLineDetail.ItemRef = Item.where("Name = 'Design'", qb=qb)[0].to_ref()
    sale.SalesItemLineDetail.Qty, sale.SalesItemLineDetail.UnitPrice = 2, 15
    receipt.Line.append(sale)
    receipt.save(qb=qb)
    deposit = Deposit()
    deposit.DepositToAccountRef = checking.to_ref()
    taken = DepositLine()
    taken.Amount = 30
    taken.LinkedTxn.append(_link(receipt, "SalesReceipt"))
    deposit.Line.append(taken)
    deposit.save(qb=qb)
    assert Deposit.get(deposit.Id, qb=qb).TotalAmt == 30

    entry = JournalEntry()
    for posting, account in (("Debit", travel), ("Credit", checking)):
        line = JournalEntryLine()
        line.Amount = 50
        line.JournalEntryLineDetail = JournalEntryLineDetail()
        line.JournalEntryLineDetail.PostingType, line.JournalEntryLineDetail.AccountRef = posting, account.to_ref()
        entry.Line.append(line)
    entry.save(qb=qb)
    assert entry.Id

    tracking = Class()
    tracking.Name = "Library Class"
    tracking.save(qb=qb)
    # the sample company's classes have Ids below 1000
    assert [c.Name for c in Class.all(qb=qb) if int(c.Id) >= 1000] == ["Library Class"]
    employee = Employee()
    employee.DisplayName = "Library Employee"
    employee.save(qb=qb)
    time = TimeActivity()
    time.NameOf, time.EmployeeRef, time.Hours, time.Minutes = "Employee", employee.to_ref(), 3, 0
    time.save(qb=qb)
    assert TimeActivity.get(time.Id, qb=qb).Hours == 3

    preferences = Preferences.get(qb=qb)
    assert preferences.ProductAndServicesPrefs.ForPurchase is True
    preferences.SalesFormsPrefs.CustomTxnNumbers = True
    preferences.save(qb=qb)
    assert Preferences.get(qb=qb).SalesFormsPrefs.CustomTxnNumbers is True
    every_code = TaxCode.all(qb=qb)
    assert len(every_code) > 1
    assert len(TaxCode.filter(max_results=1, qb=qb)) == len(every_code)  # QBO's quirk: MAXRESULTS ignored

    attachment = Attachable()
    target = AttachableRef()
    target.EntityRef = customer.to_ref()
    target.EntityRef.type = "Customer"
    attachment.AttachableRef.append(target)
    note = tmp_path / "note.txt"
    note.write_bytes(b"signed and returned")
    attachment.FileName, attachment.ContentType, attachment._FilePath = "note.txt", "text/plain", str(note)
    attachment.save(qb=qb)
    assert attachment.Id and Attachable.get(attachment.Id, qb=qb).Size == len(b"signed and returned")
